from audit.services import Actor
from bfluence.commands import ServiceCommand
from communities.services import community_get
from tokens.services import client_auth_policy_get, client_key_retire


class Command(ServiceCommand):
    help = "Retire a partner public key at once: assertions signed with it are refused from now on."

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help="The community's client_id.")
        parser.add_argument("--kid", required=True, help="The key's kid (see add_client_key's output).")
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")

    def run(self, *, client_id, kid, reason, **options):
        community = community_get(client_id=client_id)
        key = client_key_retire(
            community=community, kid=kid, reason=reason, actor=Actor.command("remove_client_key")
        )
        lines = [self.style.SUCCESS(f"Key {key.kid} of {client_id} retired.")]
        policy = client_auth_policy_get(community=community)
        if (
            policy.methods == ["private_key_jwt"]
            and not community.client_keys.filter(retired_at__isnull=True).exists()
        ):
            lines.append(
                self.style.WARNING(
                    "The community now has no active key and client secrets are off: it cannot get tokens "
                    "until a new key is added (add_client_key)."
                )
            )
        return {"client_id": client_id, "removed": key.kid}, "\n".join(lines)
