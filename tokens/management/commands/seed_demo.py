from audit.services import Actor
from bfluence.commands import ServiceCommand
from tokens.services import community_seed_demo


def curl_walkthrough(base_url: str, client_id: str, client_secret: str) -> str:
    return f"""\
# 1. Get a token (from your server, never from a browser):
TOKEN=$(curl -s -X POST {base_url}/auth/token -H 'Content-Type: application/json' \\
  -d '{{"client_id": "{client_id}", "client_secret": "{client_secret}"}}' \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# 2. Call a private endpoint with it:
curl -s {base_url}/communities/hub/client/123/get-bflus -H "Authorization: Bearer $TOKEN"

# 3. Revoke it (RFC 7009), and see the next call answer 401:
curl -s -X POST {base_url}/auth/revoke -H 'Content-Type: application/json' \\
  -d '{{"client_id": "{client_id}", "client_secret": "{client_secret}", "token": "'"$TOKEN"'"}}'
curl -s -i {base_url}/communities/hub/client/123/get-bflus -H "Authorization: Bearer $TOKEN"
"""


class Command(ServiceCommand):
    help = "Create (or refresh) the demo community, its members, and print working credentials and curl."

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def run(self, *, base_url, **options):
        demo = community_seed_demo(actor=Actor.command("seed_demo"))
        client_id = demo.community.client_id
        payload = {"client_id": client_id, "client_secret": demo.client_secret}
        text = "\n".join([
            self.style.SUCCESS("Demo community ready (members 123, 456 and 789)."),
            f"client_id:     {client_id}",
            f"client_secret: {demo.client_secret}",
            self.style.WARNING("A new secret is made on every run; the previous one stops working."),
            "",
            curl_walkthrough(base_url.rstrip("/"), client_id, demo.client_secret),
        ])
        return payload, text
