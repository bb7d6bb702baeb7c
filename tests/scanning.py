"""A stand-in secret scanner for the tests: its own P-256 key, its key list served over local HTTP, and
reports signed the way GitHub signs them (base64 DER ECDSA over the raw body)."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: ec.EllipticCurvePrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def key_list(keys: dict[str, ec.EllipticCurvePrivateKey]) -> bytes:
    return json.dumps(
        {
            "public_keys": [
                {"key_identifier": kid, "key": public_pem(key), "is_current": True}
                for kid, key in keys.items()
            ]
        }
    ).encode()


class KeyServer:
    """Serves GitHub's key-list JSON on 127.0.0.1 (a free port) and counts the fetches."""

    def __init__(self, keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
        self.keys = keys
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = key_list(server.keys)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/meta/public_keys/secret_scanning"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def report(*items: dict) -> bytes:
    return json.dumps(list(items)).encode()


def item(token: str, url: str = "https://github.com/octo/leak/blob/main/.env") -> dict:
    return {"token": token, "type": "bfluence_client_secret", "url": url, "source": "content"}
