//! SAML 2.0 service provider on samael (built with xmlsec): the identity provider an admin
//! describes, our SP metadata, the AuthnRequest (HTTP-Redirect binding, signed with our key),
//! and the checks on a Response posted to our ACS.
//!
//! samael verifies the XML signatures against the configured certificates only, keeps only
//! what they cover, and checks Destination, InResponseTo, Issuer, the time conditions,
//! Audience (when present) and Recipient. What it leaves to its callers is checked here, before
//! and after it: the size, the encoding, DOCTYPE and comments, SHA-1, exactly one assertion, a
//! required audience restriction and an AuthnStatement.
//!
//! samael parses with libxml2's default options (`libxml::parser::ParserOptions::default()`:
//! recovery on, network allowed, the document's own `encoding=` honoured), and it offers no way
//! to change them. So a response is first read the way samael's libxml2 will read it, and
//! refused unless both readings agree and are strict: UTF-8 only (`utf8_document`), then a
//! parse of our own with recovery and network off that refuses any DTD, any reference outside
//! the document and any transform but canonicalisation (`parse_strictly`). On top, no external
//! entity, DTD or URL is ever loaded by libxml2 in this process (`refuse_external_entities`).

use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::PKey;
use openssl::x509::X509;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};

use crate::escape;

/// The largest decoded SAML message or metadata document read.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const NAME_ID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// At most this many signing certificates per IdP (rollover needs two).
const MAX_CERTIFICATES: usize = 4;

/// libxml2 and xmlsec keep global state; one verification or signature at a time.
static XMLSEC: Mutex<()> = Mutex::new(());

/// The identity provider as the admin described it, by metadata or by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpSettings {
    pub entity_id: String,
    pub sso_url: String,
    /// DER X.509 certificates; never empty.
    pub certificates: Vec<Vec<u8>>,
}

impl IdpSettings {
    /// From the IdP's metadata XML: its entity id, its HTTP-Redirect sign-on service and its
    /// signing certificates (keys marked `signing`, else keys without a use, as samael reads them).
    pub fn from_metadata(xml: &str) -> Result<Self, String> {
        if xml.len() > MAX_MESSAGE_BYTES {
            return Err("the metadata is larger than 256 KiB".into());
        }
        refuse_declarations(xml)?;
        let descriptor: EntityDescriptor = xml.trim().parse().map_err(|e| format!("this is not SAML metadata: {e}"))?;
        let entity_id = descriptor.entity_id.clone().unwrap_or_default();
        let idp = descriptor
            .idp_sso_descriptors
            .as_deref()
            .and_then(|d| d.first())
            .ok_or("the metadata describes no identity provider (no IDPSSODescriptor)")?;
        let sso_url = idp
            .single_sign_on_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT)
            .map(|s| s.location.clone())
            .ok_or("the identity provider offers no single sign-on service with the HTTP-Redirect binding")?;
        let keys_for = |wanted: Option<&str>| {
            idp.key_descriptors
                .iter()
                .filter(|k| k.key_use.as_deref().filter(|u| !u.is_empty()) == wanted)
                .filter_map(|k| k.key_info.x509_data.as_ref())
                .flat_map(|d| d.certificates.iter())
                .map(|c| decode_certificate(c))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut certificates = keys_for(Some("signing"))?;
        if certificates.is_empty() {
            certificates = keys_for(None)?;
        }
        Self::new(entity_id, sso_url, certificates)
    }

    /// From the fields of the form: entity id, sign-on URL and a PEM (or bare base64) certificate.
    pub fn from_fields(entity_id: &str, sso_url: &str, certificate: &str) -> Result<Self, String> {
        let certificate = certificate.trim();
        let der = if certificate.starts_with("-----BEGIN") {
            X509::from_pem(certificate.as_bytes())
                .and_then(|c| c.to_der())
                .map_err(|_| "the signing certificate is not a PEM X.509 certificate".to_owned())?
        } else if certificate.is_empty() {
            Vec::new()
        } else {
            decode_certificate(certificate)?
        };
        let certificates = if der.is_empty() { Vec::new() } else { vec![der] };
        Self::new(entity_id.trim().to_owned(), sso_url.trim().to_owned(), certificates)
    }

    fn new(entity_id: String, sso_url: String, certificates: Vec<Vec<u8>>) -> Result<Self, String> {
        if entity_id.is_empty() || entity_id.len() > 1024 {
            return Err("the identity provider's entity id is missing".into());
        }
        let url = reqwest::Url::parse(&sso_url).map_err(|_| format!("`{sso_url}` is not a sign-on URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("`{sso_url}` is not an http(s) sign-on URL"));
        }
        // samael verifies nothing when it knows no certificate: refuse such a provider.
        if certificates.is_empty() {
            return Err(
                "the identity provider has no signing certificate, so its responses could not be verified".into()
            );
        }
        if certificates.len() > MAX_CERTIFICATES {
            return Err(format!("more than {MAX_CERTIFICATES} signing certificates"));
        }
        Ok(Self { entity_id, sso_url, certificates })
    }

    /// The same settings as samael reads them.
    fn descriptor(&self) -> Result<EntityDescriptor, String> {
        let keys: String = self
            .certificates
            .iter()
            .map(|der| {
                format!(
                    r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                    STANDARD.encode(der)
                )
            })
            .collect();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{HTTP_REDIRECT}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            escape::html(&self.entity_id),
            escape::html(&self.sso_url)
        )
        .parse()
        .map_err(|e| format!("identity provider settings: {e}"))
    }
}

/// A certificate as metadata carries it: base64 DER, possibly wrapped over lines.
fn decode_certificate(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(compact).map_err(|_| "a signing certificate is not base64".to_owned())?;
    X509::from_der(&der).map_err(|_| "a signing certificate is not an X.509 certificate".to_owned())?;
    Ok(der)
}

/// A certificate's SHA-256 fingerprint (colon-separated hex) and expiry, for admins to compare
/// with what their IdP shows.
pub fn describe_certificate(der: &[u8]) -> (String, String) {
    let Ok(cert) = X509::from_der(der) else { return (String::new(), String::new()) };
    let fingerprint = cert
        .digest(openssl::hash::MessageDigest::sha256())
        .map(|d| d.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
        .unwrap_or_default();
    (fingerprint, cert.not_after().to_string())
}

/// Our key pair for one IdP: RSA-2048 (PKCS#1 DER) and a self-signed certificate, the usual
/// way SAML SPs publish their signing key.
pub struct SpKeys {
    pub private_key: Vec<u8>,
    pub certificate: Vec<u8>,
}

pub fn new_sp_keys() -> Result<SpKeys, String> {
    let _xmlsec = XMLSEC.lock().unwrap_or_else(|e| e.into_inner());
    let keys = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).map_err(|e| e.to_string())?;
    let params = CertificateParams {
        common_name: "Beacon SAML service provider",
        issuer_name: "Beacon",
        days_until_expiration: 3650,
    };
    Ok(SpKeys {
        certificate: keys.create_certificate(&params).map_err(|e| e.to_string())?.der_data().to_vec(),
        private_key: keys.export_private_key_der().map_err(|e| e.to_string())?,
    })
}

/// Our side of one IdP.
pub struct SpSettings<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp: &'a IdpSettings,
    pub allow_sha1: bool,
    pub clock_skew_seconds: i64,
}

impl SpSettings<'_> {
    fn service_provider(&self, allow_idp_initiated: bool) -> Result<ServiceProvider, String> {
        // samael's allowlist has no SHA-1: a provider allowed SHA-1 relies on `check_algorithms`.
        let samael_allowlist = (!self.allow_sha1).then(|| {
            vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ]
        });
        ServiceProviderBuilder::default()
            .entity_id(self.entity_id.to_owned())
            .acs_url(self.acs_url.to_owned())
            .idp_metadata(self.idp.descriptor()?)
            .allow_idp_initiated(allow_idp_initiated)
            .max_clock_skew(Duration::seconds(self.clock_skew_seconds))
            .allowed_signature_algorithms(samael_allowlist)
            .build()
            .map_err(|e| e.to_string())
    }

    /// Our metadata for the admin to give the IdP: entity id, ACS (HTTP-POST) and our signing
    /// certificate; we sign requests and want assertions signed.
    pub fn metadata(&self, certificate: &[u8]) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{HTTP_POST}" Location="{acs_url}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
            entity_id = escape::html(self.entity_id),
            acs_url = escape::html(self.acs_url),
            certificate = STANDARD.encode(certificate),
        )
    }

    /// A signed HTTP-Redirect AuthnRequest: returns its id (to match `InResponseTo`) and the
    /// URL to send the browser to.
    pub fn authn_request(&self, private_key: &[u8], relay_state: &str) -> Result<(String, String), String> {
        let key = PKey::private_key_from_der(private_key).map_err(|e| format!("SP key: {e}"))?;
        let mut request =
            self.service_provider(false)?.make_authentication_request(&self.idp.sso_url).map_err(|e| e.to_string())?;
        // samael's own ids carry 32 random bits; ours are unguessable.
        request.id = format!("_{}", super::oidc::random_token());
        let _xmlsec = XMLSEC.lock().unwrap_or_else(|e| e.into_inner());
        let url = request
            .signed_redirect(relay_state, &key)
            .map_err(|e| e.to_string())?
            .ok_or("no destination for the request")?;
        Ok((request.id, url.to_string()))
    }

    /// Verifies a posted `SAMLResponse` (base64) and returns what its signed assertion says.
    pub fn verify(&self, encoded: &str, solicitation: Solicitation) -> Result<VerifiedAssertion, String> {
        let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if compact.len() > MAX_MESSAGE_BYTES / 3 * 4 + 4 {
            return Err("the response is larger than 256 KiB".into());
        }
        let bytes = STANDARD.decode(compact).map_err(|_| "SAMLResponse is not base64".to_owned())?;
        // First of all: every check below reads the text as UTF-8, and so must libxml2.
        let xml = utf8_document(&bytes)?;
        refuse_declarations(xml)?;
        // Comments are ignored by canonicalisation but split text nodes: a signed
        // `ada@example.com<!---->.evil.test` must never read as `ada@example.com`.
        if xml.contains("<!--") {
            return Err("the response contains XML comments, which are not accepted".into());
        }
        self.check_algorithms(xml)?;
        let assertions = element_names(xml).filter(|n| matches!(*n, "Assertion" | "EncryptedAssertion")).count();
        if assertions != 1 {
            return Err(format!("the response holds {assertions} assertions; exactly one is accepted"));
        }
        {
            let _xmlsec = XMLSEC.lock().unwrap_or_else(|e| e.into_inner());
            parse_strictly(xml)?;
        }
        if !element_names(xml).any(|n| n == "Signature") {
            return Err("the response is not signed".into());
        }
        // samael checks the Destination only of a signed Response; it must be ours either way.
        let shell: samael::schema::Response =
            xml.parse().map_err(|_| "the message is not a SAML Response".to_owned())?;
        if shell.destination.as_deref() != Some(self.acs_url) {
            return Err(format!(
                "the response's Destination `{}` is not this provider's ACS URL",
                shell.destination.as_deref().unwrap_or("(none)")
            ));
        }
        let (request_ids, idp_initiated) = match solicitation {
            Solicitation::Request(id) => (Some(vec![id]), false),
            Solicitation::Unsolicited => (None, true),
        };
        let sp = self.service_provider(idp_initiated)?;
        let assertion = {
            let _xmlsec = XMLSEC.lock().unwrap_or_else(|e| e.into_inner());
            refuse_external_entities();
            sp.parse_xml_response(xml, request_ids.as_deref())
        }
        .map_err(|e| match e {
            samael::service_provider::Error::FailedToValidateSignature => {
                "no signature from the provider's certificate covers the assertion (unsigned, signed by another key, altered or wrapped)".to_owned()
            }
            other => other.to_string(),
        })?;
        self.check_assertion(&assertion, idp_initiated)
    }

    /// Every SignatureMethod and DigestMethod must be SHA-2 (or SHA-1, where the admin allowed it
    /// for a legacy IdP).
    fn check_algorithms(&self, xml: &str) -> Result<(), String> {
        const SHA2: [&str; 9] = [
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2001/04/xmldsig-more#sha384",
            "http://www.w3.org/2001/04/xmlenc#sha512",
        ];
        const SHA1: [&str; 2] =
            ["http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1"];
        for algorithm in method_algorithms(xml) {
            if SHA1.contains(&algorithm) {
                if !self.allow_sha1 {
                    return Err("the response is signed with SHA-1, which this provider is not allowed to use".into());
                }
            } else if !SHA2.contains(&algorithm) {
                return Err(format!("the signature algorithm `{algorithm}` is not accepted"));
            }
        }
        Ok(())
    }

    /// What samael does not require of the verified assertion.
    fn check_assertion(&self, assertion: &Assertion, idp_initiated: bool) -> Result<VerifiedAssertion, String> {
        let for_us = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .is_some_and(|r| !r.is_empty() && r.iter().all(|r| r.audience.iter().any(|a| a == self.entity_id)));
        if !for_us {
            return Err(format!("the assertion is not restricted to the audience `{}`", self.entity_id));
        }
        if assertion.authn_statements.as_ref().is_none_or(Vec::is_empty) {
            return Err("the assertion has no AuthnStatement".into());
        }
        let subject = assertion.subject.as_ref();
        let name_id = subject.and_then(|s| s.name_id.as_ref()).filter(|n| !n.value.trim().is_empty());
        let name_id = name_id.ok_or("the assertion has no NameID")?;
        let confirmations: Vec<_> = subject
            .and_then(|s| s.subject_confirmations.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|c| c.subject_confirmation_data.as_ref())
            .collect();
        if idp_initiated && confirmations.iter().any(|d| d.in_response_to.is_some()) {
            return Err("an unsolicited response answers a request this sign-in did not make".into());
        }
        let valid_until = confirmations
            .iter()
            .filter_map(|d| d.not_on_or_after)
            .chain(assertion.conditions.as_ref().and_then(|c| c.not_on_or_after))
            .min()
            .unwrap_or_else(Utc::now);
        let attributes = assertion
            .attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| s.attributes.iter())
            .filter_map(|a| {
                let values = a.values.iter().filter_map(|v| v.value.as_deref()).map(|v| v.trim().to_owned());
                Some((a.name.clone()?, values.collect()))
            })
            .collect();
        Ok(VerifiedAssertion {
            id: assertion.id.clone(),
            name_id: name_id.value.trim().to_owned(),
            transient: name_id.format.as_deref() == Some(NAME_ID_TRANSIENT),
            attributes,
            valid_until: valid_until + Duration::seconds(self.clock_skew_seconds),
        })
    }
}

/// Whether a response answers a request we made (its id) or arrives unrequested.
pub enum Solicitation<'a> {
    Request(&'a str),
    Unsolicited,
}

/// What a verified assertion says, and until when it could be replayed.
#[derive(Debug)]
pub struct VerifiedAssertion {
    pub id: String,
    pub name_id: String,
    /// A transient NameID changes at every sign-in: it cannot identify anyone.
    pub transient: bool,
    pub attributes: Vec<(String, Vec<String>)>,
    pub valid_until: DateTime<Utc>,
}

impl VerifiedAssertion {
    pub fn values(&self, attribute: &str) -> Vec<String> {
        self.attributes.iter().filter(|(name, _)| name == attribute).flat_map(|(_, v)| v.iter().cloned()).collect()
    }

    pub fn first(&self, attribute: &str) -> Option<String> {
        self.values(attribute).into_iter().find(|v| !v.is_empty())
    }
}

/// The response as text, if libxml2 will decode its bytes as UTF-8 too.
///
/// libxml2 picks the encoding from a byte order mark, from the first bytes (`<\0?\0` is UTF-16,
/// `<\0\0\0` UCS-4, `Lo\xa7\x94` EBCDIC) or from the `encoding=` of the XML declaration; every
/// text check here reads UTF-8. A response declared as UTF-7 spells `<!DOCTYPE` as
/// `+ADw-!DOCTYPE`, and a second assertion as `+ADw-saml:Assertion`: invisible to a byte
/// search, real to libxml2. So: valid UTF-8 (other BOMs and EBCDIC are not), no NUL or other
/// control character (UTF-16 and UCS-4 without a BOM are), and an XML declaration, if any, at
/// the very start, declaring UTF-8 or no encoding.
fn utf8_document(bytes: &[u8]) -> Result<&str, String> {
    const FOREIGN: &str = "the response is not UTF-8 text (only UTF-8 is accepted)";
    let text = std::str::from_utf8(bytes).map_err(|_| FOREIGN.to_owned())?;
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(FOREIGN.into());
    }
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lower = body.to_ascii_lowercase();
    let Some(declaration) = body.strip_prefix("<?xml") else {
        return match lower.contains("<?xml") {
            true => Err("an XML declaration is accepted only at the start of the response".into()),
            false => Ok(text),
        };
    };
    if lower[5..].contains("<?xml") {
        return Err("an XML declaration is accepted only at the start of the response".into());
    }
    let end = declaration.find("?>").ok_or("the XML declaration is not closed")?;
    let mut rest = &declaration[..end];
    if !rest.starts_with(is_xml_space) {
        return Err("the response starts with a processing instruction, not an XML declaration".into());
    }
    // Pseudo-attributes: `version`, `encoding` and `standalone`, nothing else.
    while !rest.trim_start_matches(is_xml_space).is_empty() {
        let (name, after) = rest.split_once('=').ok_or("the XML declaration is malformed")?;
        let after = after.trim_start_matches(is_xml_space);
        let quote =
            after.chars().next().filter(|q| matches!(q, '"' | '\'')).ok_or("the XML declaration is malformed")?;
        let (value, tail) = after[1..].split_once(quote).ok_or("the XML declaration is malformed")?;
        match name.trim_matches(is_xml_space) {
            "version" | "standalone" => {}
            "encoding" if value.eq_ignore_ascii_case("UTF-8") => {}
            "encoding" => return Err(format!("the response declares the encoding `{value}`; only UTF-8 is accepted")),
            _ => return Err("the XML declaration is malformed".into()),
        }
        rest = tail;
    }
    Ok(text)
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The transforms a signature may apply: the enveloped signature and canonicalisation. XSLT,
/// XPath, XPointer and base64 transforms run inside xmlsec before the signature is checked.
const TRANSFORMS: [&str; 6] = [
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
];

/// Parses the response with libxml2 as samael will, but strictly: no recovery from errors
/// (samael's parse recovers, so it may read a broken document differently), no network, and
/// then refuses a DTD (internal or external subset), a declared encoding other than UTF-8, any
/// `URI` that points outside the document (xmlsec would fetch it while checking the signature)
/// and any transform but canonicalisation. Also counts the assertions libxml2 sees. Callers
/// hold `XMLSEC`.
fn parse_strictly(xml: &str) -> Result<(), String> {
    use libxml::parser::{Parser, ParserOptions};
    refuse_external_entities();
    let options = ParserOptions { recover: false, no_net: true, ..ParserOptions::default() };
    let document = Parser::default()
        .parse_string_with_options(xml, options)
        .map_err(|_| "the response is not well-formed XML".to_owned())?;
    let doc = document.doc_ptr();
    // SAFETY: `doc` is the live document `document` owns; only its fields are read, while
    // `document` is alive and under the XMLSEC lock.
    let (has_dtd, encoding) = unsafe {
        let encoding = (*doc).encoding;
        let encoding =
            (!encoding.is_null()).then(|| std::ffi::CStr::from_ptr(encoding.cast()).to_string_lossy().into_owned());
        (!(*doc).intSubset.is_null() || !(*doc).extSubset.is_null(), encoding)
    };
    if has_dtd {
        return Err("DOCTYPE and entity declarations are not accepted".into());
    }
    let root = document.get_root_element().ok_or("the response has no root element")?;
    let (mut pending, mut assertions) = (vec![root], 0);
    while let Some(element) = pending.pop() {
        let name = element.get_name();
        if matches!(name.as_str(), "Assertion" | "EncryptedAssertion") {
            assertions += 1;
        }
        if let Some(uri) = element.get_attribute("URI") {
            if !(uri.is_empty() || uri.starts_with('#')) {
                return Err(format!("the reference `{uri}` points outside the response"));
            }
        }
        if name == "Transform" {
            let algorithm = element.get_attribute("Algorithm").unwrap_or_default();
            if !TRANSFORMS.contains(&algorithm.as_str()) {
                return Err(format!("the transform `{algorithm}` is not accepted"));
            }
        }
        pending.extend(element.get_child_elements());
    }
    if assertions != 1 {
        return Err(format!("the response holds {assertions} assertions; exactly one is accepted"));
    }
    if encoding.is_some_and(|e| !e.eq_ignore_ascii_case("UTF-8")) {
        return Err("only UTF-8 is accepted".into());
    }
    Ok(())
}

/// Makes libxml2 refuse every external entity, external DTD and URL it would otherwise load,
/// for every parse in the process (samael's included): its loader is process-wide, and our
/// SAML code is the only user of libxml2.
fn refuse_external_entities() {
    use libxml::bindings::{xmlParserCtxtPtr, xmlParserInputPtr, xmlSetExternalEntityLoader};
    use std::os::raw::c_char;
    unsafe extern "C" fn refuse(_url: *const c_char, _id: *const c_char, _ctxt: xmlParserCtxtPtr) -> xmlParserInputPtr {
        std::ptr::null_mut()
    }
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    // SAFETY: sets a global function pointer once, under the XMLSEC lock (held by callers), to
    // a function with the signature libxml2 expects; returning NULL means "not loaded".
    INSTALLED.call_once(|| unsafe { xmlSetExternalEntityLoader(Some(refuse)) });
}

/// DOCTYPEs carry entity declarations (expansion bombs, external entities): never accepted.
fn refuse_declarations(xml: &str) -> Result<(), String> {
    let lower = xml.to_ascii_lowercase();
    if lower.contains("<!doctype") || lower.contains("<!entity") {
        return Err("DOCTYPE and entity declarations are not accepted".into());
    }
    Ok(())
}

/// The `Algorithm` of every SignatureMethod and DigestMethod element.
fn method_algorithms(xml: &str) -> impl Iterator<Item = &str> {
    xml.split('<').skip(1).filter_map(|element| {
        let qname = element.split(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/').next()?;
        if !matches!(qname.rsplit(':').next(), Some("SignatureMethod" | "DigestMethod")) {
            return None;
        }
        let tag = element.split('>').next()?;
        let (_, rest) = tag.split_once("Algorithm=")?;
        let quote = rest.chars().next().filter(|q| matches!(q, '"' | '\''))?;
        rest[1..].split(quote).next()
    })
}

/// The local names of a document's elements. It can over-count (a CDATA section holding
/// markup), never under-count: text and attribute values cannot hold a raw `<`.
fn element_names(xml: &str) -> impl Iterator<Item = &str> {
    xml.split('<').skip(1).filter(|s| !s.starts_with(['/', '!', '?'])).map(|s| {
        let qname = s.split(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/').next().unwrap_or_default();
        qname.rsplit(':').next().unwrap_or(qname)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate_der() -> Vec<u8> {
        new_sp_keys().unwrap().certificate
    }

    fn metadata(keys: &str) -> String {
        format!(
            r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://www.okta.com/exk1">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://example.okta.com/post"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://example.okta.com/sso"/>
  </IDPSSODescriptor>
</EntityDescriptor>"#
        )
    }

    fn key(use_: &str, der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let wrapped: Vec<String> = b64.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        format!(
            "<KeyDescriptor {use_}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>",
            wrapped.join("\n")
        )
    }

    #[test]
    fn metadata_gives_the_entity_the_redirect_service_and_the_signing_certificates() {
        let (signing, encryption) = (certificate_der(), certificate_der());
        let xml = metadata(&(key(r#"use="encryption""#, &encryption) + &key(r#"use="signing""#, &signing)));
        let idp = IdpSettings::from_metadata(&xml).unwrap();
        assert_eq!(idp.entity_id, "http://www.okta.com/exk1");
        assert_eq!(idp.sso_url, "https://example.okta.com/sso");
        assert_eq!(idp.certificates, vec![signing.clone()]);
        // Keys without a use count as signing keys when none is marked.
        let idp = IdpSettings::from_metadata(&metadata(&key("", &signing))).unwrap();
        assert_eq!(idp.certificates, vec![signing]);
    }

    #[test]
    fn an_idp_without_a_signing_certificate_is_refused() {
        let only_encryption = metadata(&key(r#"use="encryption""#, &certificate_der()));
        assert!(IdpSettings::from_metadata(&only_encryption).unwrap_err().contains("no signing certificate"));
        assert!(IdpSettings::from_metadata(&metadata("")).unwrap_err().contains("no signing certificate"));
        let err = IdpSettings::from_fields("urn:idp", "https://idp.example/sso", "").unwrap_err();
        assert!(err.contains("no signing certificate"), "{err}");
        let err = IdpSettings::from_fields("urn:idp", "https://idp.example/sso", "bm90IGEgY2VydA==").unwrap_err();
        assert!(err.contains("not an X.509"), "{err}");
    }

    #[test]
    fn metadata_with_a_doctype_or_no_idp_is_refused() {
        let bomb = format!("<!DOCTYPE x [<!ENTITY a \"aaaa\">]>{}", metadata(&key("", &certificate_der())));
        assert!(IdpSettings::from_metadata(&bomb).unwrap_err().contains("DOCTYPE"));
        assert!(IdpSettings::from_metadata("<html/>").is_err());
    }

    #[test]
    fn certificates_are_accepted_as_pem_or_base64() {
        let der = certificate_der();
        let pem = String::from_utf8(X509::from_der(&der).unwrap().to_pem().unwrap()).unwrap();
        let by_pem = IdpSettings::from_fields("urn:idp", "https://idp.example/sso", &pem).unwrap();
        let by_b64 = IdpSettings::from_fields("urn:idp", "https://idp.example/sso", &STANDARD.encode(&der)).unwrap();
        assert_eq!(by_pem, by_b64);
        assert!(by_pem.descriptor().is_ok());
        let (fingerprint, expires) = describe_certificate(&der);
        assert_eq!(fingerprint.len(), 32 * 3 - 1);
        assert!(!expires.is_empty());
    }

    #[test]
    fn element_names_see_every_prefix_and_never_less() {
        let xml = r#"<p:Response xmlns:p="p"><Assertion ID="a"/><x:Assertion/><a:EncryptedAssertion></a:EncryptedAssertion></p:Response>"#;
        let names: Vec<_> = element_names(xml).collect();
        assert_eq!(names, ["Response", "Assertion", "Assertion", "EncryptedAssertion"]);
    }

    #[test]
    fn algorithms_are_read_from_signature_and_digest_methods_only() {
        let xml = r#"<ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/><ds:Transform Algorithm="t"/><DigestMethod Algorithm='d'></DigestMethod></ds:SignedInfo>"#;
        assert_eq!(method_algorithms(xml).collect::<Vec<_>>(), ["http://www.w3.org/2000/09/xmldsig#rsa-sha1", "d"]);
    }

    /// `text` in UTF-7 the way an attacker hides markup: `<`, `>`, `[`, `]` and `!` shifted to
    /// base64, `+` written as `+-`.
    fn utf7(text: &str) -> String {
        text.replace('+', "+-")
            .replace('<', "+ADw-")
            .replace('>', "+AD4-")
            .replace('[', "+AFs-")
            .replace(']', "+AF0-")
            .replace('!', "+ACE-")
    }

    const RESPONSE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r"><saml:Assertion ID="_a"><saml:Subject/></saml:Assertion></samlp:Response>"#;

    #[test]
    fn only_utf8_is_read_whatever_the_document_declares() {
        for accepted in [
            RESPONSE.to_owned(),
            format!("<?xml version=\"1.0\"?>{RESPONSE}"),
            format!("<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n{RESPONSE}"),
            format!("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>{RESPONSE}"),
        ] {
            assert!(utf8_document(accepted.as_bytes()).is_ok(), "{accepted}");
        }
        let utf16le: Vec<u8> = RESPONSE.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let refused: Vec<(&str, Vec<u8>)> = vec![
            ("UTF-7", format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{RESPONSE}").into_bytes()),
            ("utf-7", format!("<?xml version='1.0' encoding = 'utf-7' ?>{RESPONSE}").into_bytes()),
            ("UTF-16", format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{RESPONSE}").into_bytes()),
            ("ISO-8859-1", format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{RESPONSE}").into_bytes()),
            ("UTF8", format!("<?xml version=\"1.0\" encoding=\"UTF8\"?>{RESPONSE}").into_bytes()),
            ("Encoding", format!("<?xml version=\"1.0\" Encoding=\"UTF-7\"?>{RESPONSE}").into_bytes()),
            ("late declaration", format!(" <?xml version=\"1.0\" encoding=\"UTF-7\"?>{RESPONSE}").into_bytes()),
            ("second declaration", format!("<?xml version=\"1.0\"?><?xml encoding=\"UTF-7\"?>{RESPONSE}").into_bytes()),
            ("UTF-16LE BOM", [[0xFF, 0xFE].as_slice(), &utf16le].concat()),
            (
                "UTF-16BE BOM",
                [[0xFE, 0xFF].as_slice(), &RESPONSE.encode_utf16().flat_map(u16::to_be_bytes).collect::<Vec<_>>()]
                    .concat(),
            ),
            ("UTF-16 without BOM", utf16le.clone()),
            ("UCS-4", RESPONSE.chars().flat_map(|c| (c as u32).to_le_bytes()).collect()),
            ("EBCDIC", vec![0x4C, 0x6F, 0xA7, 0x94]),
            ("not UTF-8", b"<a>\xff</a>".to_vec()),
        ];
        for (case, bytes) in refused {
            assert!(utf8_document(&bytes).is_err(), "{case} was accepted");
        }
    }

    #[test]
    fn libxml2_would_see_what_utf7_hides_from_the_text_checks() {
        let hidden_doctype = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-7\"?>{}{RESPONSE}",
            utf7("<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x.dtd\"> %p;]>")
        );
        let second = RESPONSE.replace("</samlp:Response>", &utf7(r#"<saml:Assertion ID="_evil"/></samlp:Response>"#));
        let hidden_assertion = format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{second}");
        for (case, xml, seen) in
            [("DOCTYPE", hidden_doctype, "DOCTYPE"), ("second assertion", hidden_assertion, "2 assertions")]
        {
            // What the text checks see: no DOCTYPE, one assertion.
            assert!(refuse_declarations(&xml).is_ok(), "{case}");
            assert_eq!(element_names(&xml).filter(|n| *n == "Assertion").count(), 1, "{case}");
            // Refused first for its encoding, and by the strict parse on its own.
            let err = utf8_document(xml.as_bytes()).unwrap_err();
            assert!(err.contains("`UTF-7`"), "{case}: {err}");
            let _xmlsec = XMLSEC.lock().unwrap_or_else(|e| e.into_inner());
            // What libxml2 sees, decoding UTF-7 as declared: the hidden markup.
            let err = parse_strictly(&xml).unwrap_err();
            assert!(err.contains(seen), "{case}: {err}");
        }
    }

    #[test]
    fn the_strict_parse_refuses_dtds_broken_xml_outside_references_and_transforms() {
        let _xmlsec = XMLSEC.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(parse_strictly(RESPONSE), Ok(()));
        let refused = [
            ("DOCTYPE", format!("<!DOCTYPE r SYSTEM \"http://127.0.0.1:9/r.dtd\">{RESPONSE}"), "DOCTYPE"),
            ("not well-formed", RESPONSE.replace("</samlp:Response>", ""), "well-formed"),
            ("two assertions", RESPONSE.replace("<saml:Subject/>", "<saml:Assertion/>"), "2 assertions"),
            (
                "remote reference",
                RESPONSE.replace("<saml:Subject/>", r#"<ds:Reference xmlns:ds="d" URI="http://127.0.0.1:9/"/>"#),
                "outside",
            ),
            (
                "XSLT transform",
                RESPONSE.replace(
                    "<saml:Subject/>",
                    r#"<ds:Transform xmlns:ds="d" Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>"#,
                ),
                "transform",
            ),
        ];
        for (case, xml, reason) in refused {
            let err = parse_strictly(&xml).unwrap_err();
            assert!(err.contains(reason), "{case}: {err}");
        }
    }

    /// Our side of a test provider, as the tenant `t.example` serves it.
    fn test_sp(idp: &IdpSettings) -> SpSettings<'_> {
        SpSettings {
            entity_id: "https://t.example/sso/saml/1/metadata",
            acs_url: "https://t.example/sso/saml/1/acs",
            idp,
            allow_sha1: false,
            clock_skew_seconds: 60,
        }
    }

    #[test]
    fn verify_refuses_a_foreign_encoding_before_anything_else() {
        let keys = new_sp_keys().unwrap();
        let idp = IdpSettings::from_fields("urn:idp", "https://idp.example/sso", &STANDARD.encode(&keys.certificate))
            .unwrap();
        let sp = test_sp(&idp);
        let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{RESPONSE}");
        let err = sp.verify(&STANDARD.encode(xml), Solicitation::Unsolicited).unwrap_err();
        assert!(err.contains("only UTF-8"), "{err}");
    }

    #[test]
    fn authn_requests_are_signed_redirects_with_unguessable_ids() {
        let keys = new_sp_keys().unwrap();
        let idp = IdpSettings::from_fields(
            "urn:idp",
            "https://idp.example/sso?tenant=1",
            &STANDARD.encode(&keys.certificate),
        )
        .unwrap();
        let sp = test_sp(&idp);
        let (id, url) = sp.authn_request(&keys.private_key, "relay").unwrap();
        assert!(id.len() > 40, "{id}");
        let url = reqwest::Url::parse(&url).unwrap();
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["tenant"], "1");
        assert_eq!(query["RelayState"], "relay");
        assert_eq!(query["SigAlg"], "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
        assert!(query.contains_key("SAMLRequest") && query.contains_key("Signature"));
        let metadata = sp.metadata(&keys.certificate);
        assert!(metadata.contains(r#"Location="https://t.example/sso/saml/1/acs""#));
        assert!(metadata.contains(&STANDARD.encode(&keys.certificate)));
    }
}
