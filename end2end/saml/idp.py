"""A real SAML 2.0 identity provider (pysaml2) on loopback for the end-to-end tests.

    python end2end/saml/idp.py --port 7443 [--users users.json]

Serves http://127.0.0.1:<port>:
  GET  /metadata  IdP metadata (entity id = this URL), with the signing certificate
  GET  /sso       AuthnRequest, HTTP-Redirect binding (POST /sso: HTTP-POST binding) -> login form
  POST /login     checks the password, answers with a signed Response + signed Assertion
                  through the HTTP-POST binding (auto-submitting form, "Continue" button without JS)

Attributes are sent the way Okta sends them by default: Name = email, firstName, lastName,
groups (multi-valued), NameFormat "unspecified"; the NameID is the email (emailAddress format).
--users takes {"someone@example.com": {"password": "...", "firstName": "...", "lastName": "...",
"groups": ["..."]}, ...}, merged over the built-in directory.
"""

import argparse
import datetime
import html
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAMLError, saml, samlp
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import do_ava, factory
from saml2.saml import NAME_FORMAT_UNSPECIFIED, NAMEID_FORMAT_EMAILADDRESS
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

USERS = {
    "ada@example.com": {"password": "ada-password", "firstName": "Ada", "lastName": "Lovelace",
                        "groups": ["beacon-admins", "engineering"]},
    "grace@example.com": {"password": "grace-password", "firstName": "Grace", "lastName": "Hopper",
                          "groups": ["engineering"]},
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class OktaStyleAttributes(AttributeConverter):
    """Emit attributes under their own names with NameFormat unspecified, as Okta does.

    pysaml2's stock converters rename the attributes they know (mail -> urn:oid:...) and tag the
    others NameFormat "uri"; this one keeps every name as is.
    """

    def to_(self, attrvals):
        return [factory(saml.Attribute, name=name, name_format=self.name_format, attribute_value=do_ava(value))
                for name, value in attrvals.items()]


def make_key_and_cert(directory, common_name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    key_file, cert_file = os.path.join(directory, "idp.key"), os.path.join(directory, "idp.crt")
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def make_server(base, key_file, cert_file):
    config = IdPConfig()
    config.load({
        "entityid": f"{base}/metadata",
        "service": {"idp": {
            "name": "Beacon end-to-end SAML IdP",
            "endpoints": {"single_sign_on_service": [(f"{base}/sso", BINDING_HTTP_REDIRECT),
                                                     (f"{base}/sso", BINDING_HTTP_POST)]},
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "sign_response": True,
            "sign_assertion": True,
            "want_authn_requests_signed": False,
            # Here, not at the top level: pysaml2 reads these in the service's context
            # (a top-level signing_algorithm is silently ignored and messages get rsa-sha1).
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "policy": {"default": {"lifetime": {"minutes": 15}, "name_form": NAME_FORMAT_UNSPECIFIED,
                                   "fail_on_missing_requested": False}},
        }},
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": shutil.which("xmlsec1"),
        # Empty: SPs are added at runtime (see load_sp_metadata).
        "metadata": {},
    })
    # First in the list: from_local() uses the first converter for the policy's name_form.
    config.attribute_converters.insert(0, OktaStyleAttributes(NAME_FORMAT_UNSPECIFIED))
    return Server(config=config)


class IdP:
    def __init__(self, port, users):
        self.base = f"http://127.0.0.1:{port}"
        self.users = users
        self.tmp = tempfile.mkdtemp(prefix="saml-idp-")
        self.server = make_server(self.base, *make_key_and_cert(self.tmp, f"127.0.0.1:{port}"))
        self.metadata_xml = create_metadata_string(None, config=self.server.config).decode()
        # pysaml2 objects are not thread-safe; the HTTP server is threaded (browsers keep idle
        # preconnected sockets open, which would stall a single-threaded server).
        self.lock = threading.Lock()

    def load_sp_metadata(self, entity_id):
        """The SP is not known in advance (its entity id carries a per-run uuid), but its entity id is
        the URL of its metadata: fetch it now, replacing whatever was loaded for it before (an SP that
        restarted may have a new certificate or ACS URL). Only loopback URLs are fetched."""
        url = urllib.parse.urlsplit(entity_id)
        host = url.hostname or ""
        if url.scheme != "http" or not (host in LOOPBACK or host.endswith(".localhost")):
            raise ValueError(f"SP entity id is not a loopback metadata URL: {entity_id!r}")
        # Tenants live on <slug>.localhost, loopback by definition (RFC 6761) but unknown to many
        # resolvers: connect to 127.0.0.1 and name the host in the request.
        port = url.port or 80
        request = urllib.request.Request(f"http://127.0.0.1:{port}{url.path}", headers={"Host": url.netloc})
        with urllib.request.urlopen(request, timeout=10) as resp:
            xml = resp.read().decode()
        store = self.server.metadata
        for key in [k for k, md in store.metadata.items() if entity_id in md]:
            del store.metadata[key]
        store.load("inline", xml)
        if entity_id not in store.keys():
            raise ValueError(f"metadata at {entity_id} does not describe entity {entity_id}")

    def parse_request(self, saml_request, binding, relay_state=None, sigalg=None, signature=None):
        # Read the Issuer first (unverified) to know whose metadata to load, then parse for real:
        # parse_authn_request checks Destination, IssueInstant, schema and any XML signature.
        if not saml_request:
            raise ValueError("missing SAMLRequest")
        xml = self.server.unravel(saml_request, binding, "SAMLRequest")
        issuer = samlp.authn_request_from_string(xml).issuer
        if issuer is None or not issuer.text:
            raise ValueError("AuthnRequest has no Issuer")
        self.load_sp_metadata(issuer.text.strip())
        return self.server.parse_authn_request(saml_request, binding, relay_state=relay_state,
                                               sigalg=sigalg, signature=signature).message

    def response(self, request, username, relay_state):
        user = self.users[username]
        # Destination (ACS URL, checked against the SP metadata), InResponseTo and SP entity id.
        args = self.server.response_args(request, [BINDING_HTTP_POST])
        identity = {"email": [username], "firstName": [user.get("firstName", "")],
                    "lastName": [user.get("lastName", "")], "groups": list(user.get("groups", []))}
        resp = self.server.create_authn_response(
            identity, args["in_response_to"], args["destination"], args["sp_entity_id"],
            name_id=saml.NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=username),
            sign_response=True, sign_assertion=True,
            authn={"class_ref": saml.AUTHN_PASSWORD_PROTECTED, "authn_auth": self.server.config.entityid})
        return self.server.apply_binding(BINDING_HTTP_POST, str(resp), args["destination"],
                                         relay_state=relay_state, response=True)


def login_page(fields, username="", error=""):
    esc = lambda s: html.escape(s or "", quote=True)  # noqa: E731
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items() if v)
    alert = f'<p role="alert" style="color:#b00">{esc(error)}</p>' if error else ""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in - SAML IdP</title></head>
<body><h1>SAML IdP</h1>{alert}
<form method="post" action="/login">{hidden}
<p><label for="username">Username</label> <input id="username" name="username" type="text" value="{esc(username)}" autocomplete="username" autofocus></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit">Sign in</button></p>
</form></body></html>"""


class Handler(BaseHTTPRequestHandler):
    idp: IdP
    note = ""

    def log_request(self, code="-", size="-"):
        path = self.path if len(self.path) <= 100 else self.path[:100] + "..."
        sys.stderr.write(f"{self.log_date_time_string()} {self.command} {path} {code}{self.note}\n")

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def params(self):
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(length).decode()
        else:
            query = urllib.parse.urlsplit(self.path).query
        return {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        self.note = ""
        route = (self.command, urllib.parse.urlsplit(self.path).path)
        try:
            with self.idp.lock:
                if route == ("GET", "/metadata"):
                    return self.send(200, self.idp.metadata_xml, "application/samlmetadata+xml")
                if route in (("GET", "/sso"), ("POST", "/sso")):
                    return self.sso(self.params())
                if route == ("POST", "/login"):
                    return self.login(self.params())
            self.send(404, "not found\n", "text/plain")
        except Exception as exc:  # a bad request from the SP: say why, in the page and in the log
            self.note = f" error: {exc!r}"
            traceback.print_exc(file=sys.stderr)
            self.send(400, f"SAML IdP error: {exc}\n", "text/plain; charset=utf-8")

    def sso(self, p):
        binding = BINDING_HTTP_REDIRECT if self.command == "GET" else BINDING_HTTP_POST
        # Signed redirect requests are accepted but not required (want_authn_requests_signed=False,
        # so pysaml2 does not check SigAlg/Signature).
        request = self.idp.parse_request(p.get("SAMLRequest"), binding, p.get("RelayState"), p.get("SigAlg"),
                                         p.get("Signature"))
        self.note = f" sp={request.issuer.text}"
        # Fail now, not after the login, if the ACS URL asked for is not in the SP's metadata.
        try:
            self.idp.server.response_args(request, [BINDING_HTTP_POST])
        except SAMLError as exc:
            raise ValueError(f"no HTTP-POST AssertionConsumerService {request.assertion_consumer_service_url or ''}"
                             f" in the metadata of {request.issuer.text}") from exc
        # The form carries the request itself: /login parses it again, so the IdP keeps no state.
        fields = {"SAMLRequest": p.get("SAMLRequest"), "RelayState": p.get("RelayState", ""), "binding": binding}
        self.send(200, login_page(fields))

    def login(self, p):
        fields = {k: p.get(k, "") for k in ("SAMLRequest", "RelayState", "binding")}
        binding = BINDING_HTTP_POST if fields["binding"] == BINDING_HTTP_POST else BINDING_HTTP_REDIRECT
        request = self.idp.parse_request(fields["SAMLRequest"], binding)
        username, password = p.get("username", "").strip(), p.get("password", "")
        user = self.idp.users.get(username)
        if user is None or user["password"] != password:
            self.note = f" user={username!r} rejected"
            return self.send(401, login_page(fields, username, "Wrong username or password"))
        self.note = f" user={username} sp={request.issuer.text}"
        out = self.idp.response(request, username, fields["RelayState"])
        self.send(out.get("status", 200), out["data"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--users", help="JSON file of users to add or override")
    opts = ap.parse_args()
    users = dict(USERS)
    if opts.users:
        with open(opts.users) as f:
            users.update(json.load(f))
    Handler.idp = IdP(opts.port, users)
    httpd = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    httpd.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the temp dir is removed
    print(f"SAML IdP listening on {Handler.idp.base}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(Handler.idp.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
