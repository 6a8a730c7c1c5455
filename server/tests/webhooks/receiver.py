"""A webhook receiver for the tests, on loopback: it verifies every request with the
`standardwebhooks` library (an implementation of the signing scheme independent of Beacon's),
keeps what arrived, and answers as the test tells it.

- `POST /control` with JSON `{"secret": "whsec_...", "fail": N}`: the secret to verify with,
  and how many of the next requests to answer 503.
- `GET /received`: every request so far, as JSON.
- Any other `POST`: a delivery; answered 200 when it verifies, 401 when it does not, 503 when
  told to fail.

Prints the port it listens on as its first line.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

state = {"secret": None, "fail": 0, "received": []}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            self.answer(200, state["received"])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/control":
            with lock:
                state.update(json.loads(body))
            return self.answer(200, {"ok": True})
        headers = {name.lower(): value for name, value in self.headers.items()}
        with lock:
            secret = state["secret"]
            failing = state["fail"] > 0
            if failing:
                state["fail"] -= 1
        try:
            Webhook(secret).verify(body, headers)
            verified, reason = True, None
        except Exception as error:  # any failure to verify is the answer
            verified, reason = False, str(error)
        status = 503 if failing else 200 if verified else 401
        with lock:
            state["received"].append(
                {
                    "id": headers.get("webhook-id"),
                    "verified": verified,
                    "reason": reason,
                    "status": status,
                    "body": json.loads(body) if verified else None,
                }
            )
        self.answer(status, {"verified": verified})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
