import argparse

from audit.services import Actor
from bfluence.commands import ServiceCommand
from clients.services import PolicyChange, client_auth_policy_set, policy_locks_out, policy_summary
from communities.services import community_get

LOCKED_OUT = (
    "Warning: client secrets are off and the community has no active key: it cannot get tokens "
    "until one is registered (add_client_key)."
)


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


class Command(ServiceCommand):
    help = (
        "Set a community's client-authentication policy: allowed methods, DPoP, source-IP allowlist. "
        "Options not given stay as they are."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help="The community's client_id.")
        parser.add_argument(
            "--methods",
            type=_comma_list,
            metavar="client_secret,private_key_jwt",
            help="Allowed client authentication methods (one or both).",
        )
        parser.add_argument(
            "--dpop",
            choices=["off", "optional", "required"],
            help="DPoP sender-constrained tokens (RFC 9449).",
        )
        parser.add_argument(
            "--allowed-ips",
            type=_comma_list,
            metavar="CIDR,...",
            help='Source-IP allowlist (IPv4/IPv6 addresses or CIDR ranges); "" clears it.',
        )
        parser.add_argument(
            "--allowlist-api",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Also refuse API calls from outside the allowlist.",
        )
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")

    def run(self, *, client_id, methods, dpop, allowed_ips, allowlist_api, reason, **options):
        community = community_get(client_id=client_id)
        policy = client_auth_policy_set(
            community=community,
            change=PolicyChange(
                methods=methods, dpop=dpop, allowed_ips=allowed_ips, allowlist_applies_to_api=allowlist_api
            ),
            actor=Actor.command("set_client_auth"),
            reason=reason,
        )
        summary = policy_summary(policy)
        if policy_locks_out(community=community, policy=policy):
            self.stderr.write(self.style.WARNING(LOCKED_OUT))
        payload = {
            "client_id": client_id,
            "methods": summary["methods"],
            "dpop": summary["dpop"],
            "allowed_ips": summary["allowed_ips"],
        }
        text = "\n".join(
            [
                self.style.SUCCESS(f"Client authentication of {client_id}:"),
                f"methods: {', '.join(summary['methods'])}",
                f"dpop: {summary['dpop']}",
                f"allowed IPs: {', '.join(summary['allowed_ips']) or '(anywhere)'}",
                f"allowlist applies to API calls: {'yes' if summary['allowlist_applies_to_api'] else 'no'}",
            ]
        )
        return payload, text
