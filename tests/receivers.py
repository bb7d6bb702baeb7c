"""Real receivers for the notification tests, on 127.0.0.1 and free ports: an HTTPS webhook receiver
with a certificate the test makes, verifying each delivery with the ``standardwebhooks`` package, and an
aiosmtpd SMTP server keeping what it receives."""

import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from standardwebhooks.webhooks import Webhook

from tests.stack import free_port, self_signed_certificate


class WebhookReceiver:
    """HTTPS on a free port. ``status`` is what it answers; ``hang`` makes it accept and never answer.

    ``received`` holds (webhook-id, parsed body) of every delivery whose signature verified;
    ``refused`` counts the ones that did not."""

    def __init__(self, secret: str = "", *, status: int = 204) -> None:
        self.secret = secret
        self.status = status
        self.hang = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.received: list[tuple[str, dict]] = []
        self.refused = 0
        self.raw: list[tuple[dict[str, str], bytes]] = []  # every delivery as it came
        self.directory = tempfile.TemporaryDirectory()
        self.cert, key = self_signed_certificate(self.directory.name)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}/bfluence/webhook"
        self.httpd: ThreadingHTTPServer | None = None
        self._key = key
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrived.set()
                receiver.raw.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.hang.is_set():
                    receiver.release.wait(30)
                    return
                try:
                    payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                except Exception:
                    receiver.refused += 1
                    self.send_response(400)
                else:
                    receiver.received.append((self.headers["webhook-id"], payload))
                    self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self._key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused until ``start`` again."""
        self.release.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def close(self) -> None:
        self.stop()
        self.directory.cleanup()


class _Keep(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def handle_message(self, message) -> None:
        self.messages.append(message)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port; ``messages`` are the email.message.Message objects."""

    def __init__(self) -> None:
        self.handler = _Keep()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list:
        return self.handler.messages

    def stop(self) -> None:
        self.controller.stop()
