from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from clients.services import community_seed_demo


def curl_walkthrough(base_url: str, client_id: str, client_secret: str) -> str:
    """The README's partner flow (README.md, "The partner flow, with curl"), with real values filled in.

    Every call shows its status (``-i``); the README shows this very text for the demo values
    (tests/test_readme.py keeps the two identical).
    """
    credentials = f'"client_id": "{client_id}", "client_secret": "{client_secret}"'
    return f"""\
# 1. Get a token: from your server, never from a browser.
curl -i -X POST {base_url}/auth/token -H 'Content-Type: application/json' \\
  -d '{{{credentials}}}'
# 200 {{"access_token": "eyJhbGciOiJIUzI1NiIs…", "token_type": "Bearer", "expires_in": 86400, "scope": "bflus:read"}}
#     with Cache-Control: no-store and Pragma: no-cache

# The OAuth 2.0 client-credentials form works too, the client in HTTP Basic (or in the form):
curl -i -X POST {base_url}/auth/token -u '{client_id}:{client_secret}' -d grant_type=client_credentials

# Keep one token for the next steps:
TOKEN=$(curl -s -X POST {base_url}/auth/token -u '{client_id}:{client_secret}' -d grant_type=client_credentials \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# 2. Call a private endpoint with the token:
curl -i {base_url}/communities/hub/client/123/get-bflus -H "Authorization: Bearer $TOKEN"
# 200 {{"community": "{client_id}", "client": "123", "bflus": 1500, "updated_at": "2026-…+00:00"}}

# What is this token?
curl -i {base_url}/auth/me -H "Authorization: Bearer $TOKEN"
# 200 {{"client_id": "{client_id}", "community_name": "Comunidade Demo", "permissions": ["bflus:read"], …}}

# 3. Revoke it (RFC 7009), and the very next call is refused:
curl -i -X POST {base_url}/auth/revoke -H 'Content-Type: application/json' \\
  -d '{{{credentials}, "token": "'"$TOKEN"'"}}'
# 200 {{}}
curl -i {base_url}/communities/hub/client/123/get-bflus -H "Authorization: Bearer $TOKEN"
# 401 WWW-Authenticate: Bearer realm="bfluence", error="invalid_token",
#                       error_description="The access token was revoked"
#     {{"error": "invalid_token",
#      "error_description": "O token de acesso foi revogado: solicite um novo em /auth/token."}}

# 4. "Our credentials are compromised": every token revoked and every secret suspended at once.
#    (This ends the demo secret too: `python3 dev.py manage seed_demo` prints a fresh one.)
curl -i -X POST {base_url}/auth/revocation-requests -H 'Content-Type: application/json' \\
  -d '{{{credentials}, "reason": "laptop stolen"}}'
# 202 {{"id": 1, "status": "pending", "tokens_revoked": 2, "secrets_suspended": 1}}
"""


class Command(ServiceCommand):
    help = gettext_noop(
        "Create (or refresh) the demo community, its members, and print working credentials and curl."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help=gettext_lazy("The server the printed curl commands call (default http://127.0.0.1:8000)."),
        )

    def run(self, *, base_url, **options):
        demo = community_seed_demo(actor=Actor.command("seed_demo"))
        client_id = demo.community.client_id
        payload = {"client_id": client_id, "client_secret": demo.client_secret}
        text = "\n".join(
            [
                self.style.SUCCESS(_("Demo community ready (members 123, 456 and 789).")),
                f"client_id:     {client_id}",
                f"client_secret: {demo.client_secret}",
                self.style.WARNING(_("A new secret is made on every run; the previous one stops working.")),
                "",
                curl_walkthrough(base_url.rstrip("/"), client_id, demo.client_secret),
            ]
        )
        return payload, text
