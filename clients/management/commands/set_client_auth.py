import argparse

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from clients.services import PolicyChange, client_auth_policy_set, policy_locks_out, policy_summary
from communities.services import community_get

LOCKED_OUT = gettext_lazy(
    "Warning: client secrets are off and the community has no active key: it cannot get tokens "
    "until one is registered (add_client_key)."
)


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


class Command(ServiceCommand):
    help = gettext_noop(
        "Set a community's client-authentication policy: allowed methods, DPoP, source-IP allowlist. "
        "Options not given stay as they are."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument(
            "--methods",
            type=_comma_list,
            metavar="client_secret,private_key_jwt",
            help=gettext_lazy("Allowed client authentication methods (one or both)."),
        )
        parser.add_argument(
            "--dpop",
            choices=["off", "optional", "required"],
            help=gettext_lazy("DPoP sender-constrained tokens (RFC 9449)."),
        )
        parser.add_argument(
            "--allowed-ips",
            type=_comma_list,
            metavar="CIDR,...",
            help=gettext_lazy('Source-IP allowlist (IPv4/IPv6 addresses or CIDR ranges); "" clears it.'),
        )
        parser.add_argument(
            "--allowlist-api",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=gettext_lazy("Also refuse API calls from outside the allowlist."),
        )
        parser.add_argument("--reason", default="", help=gettext_lazy("Why, for the audit trail."))

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
            self.stderr.write(self.style.WARNING(str(LOCKED_OUT)))
        payload = {
            "client_id": client_id,
            "methods": summary["methods"],
            "dpop": summary["dpop"],
            "allowed_ips": summary["allowed_ips"],
        }
        text = "\n".join(
            [
                self.style.SUCCESS(_("Client authentication of %(client_id)s:") % {"client_id": client_id}),
                _("methods: %(methods)s") % {"methods": ", ".join(summary["methods"])},
                f"dpop: {summary['dpop']}",
                _("allowed IPs: %(ips)s") % {"ips": ", ".join(summary["allowed_ips"]) or _("(anywhere)")},
                _("allowlist applies to API calls: %(answer)s")
                % {"answer": _("yes") if summary["allowlist_applies_to_api"] else _("no")},
            ]
        )
        return payload, text
