from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from audit.services import Actor
from bfluence.commands import ServiceCommand
from clients.services import client_auth_policy_get
from communities.services import community_get
from tokens.services import community_retire_key


def _kid_value_kept_together(args: list[str]) -> list[str]:
    """``--kid -4y_O7…`` as ``--kid=-4y_O7…``: an RFC 7638 thumbprint is base64url and starts with ``-``
    one time in 64, which argparse would otherwise read as an option and refuse."""
    merged: list[str] = []
    values = iter(args)
    for arg in values:
        if arg == "--kid":
            following = next(values, None)
            merged.append(arg if following is None else f"--kid={following}")
        else:
            merged.append(arg)
    return merged


class Command(ServiceCommand):
    help = gettext_noop(
        "Retire a partner public key at once: assertions signed with it are refused from now on, and the "
        "tokens it obtained are revoked (unless --keep-tokens)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args = parser.parse_args
        parser.parse_args = lambda args=None, namespace=None: parse_args(  # type: ignore[method-assign,assignment]
            None if args is None else _kid_value_kept_together(list(args)), namespace
        )
        return parser

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument(
            "--kid", required=True, help=gettext_lazy("The key's kid (see add_client_key's output).")
        )
        parser.add_argument("--reason", default="", help=gettext_lazy("Why, for the audit trail."))
        parser.add_argument(
            "--keep-tokens",
            action="store_true",
            help=gettext_lazy(
                "A planned retirement: leave the tokens the key obtained working until they expire "
                "(default: revoke them, as for a leaked key)."
            ),
        )

    def run(self, *, client_id, kid, reason, keep_tokens, **options):
        community = community_get(client_id=client_id)
        retirement = community_retire_key(
            community=community,
            kid=kid,
            reason=reason,
            actor=Actor.command("remove_client_key"),
            revoke_tokens=not keep_tokens,
        )
        key = retirement.key
        values = {"kid": key.kid, "client_id": client_id, "count": retirement.tokens_revoked}
        if keep_tokens:
            message = (
                _("Key %(kid)s of %(client_id)s retired; its tokens are kept until they expire.") % values
            )
        else:
            message = (
                ngettext(
                    "Key %(kid)s of %(client_id)s retired; %(count)d token revoked.",
                    "Key %(kid)s of %(client_id)s retired; %(count)d tokens revoked.",
                    retirement.tokens_revoked,
                )
                % values
            )
        lines = [self.style.SUCCESS(message)]
        policy = client_auth_policy_get(community=community)
        if (
            policy.methods == ["private_key_jwt"]
            and not community.client_keys.filter(retired_at__isnull=True).exists()
        ):
            lines.append(
                self.style.WARNING(
                    _(
                        "The community now has no active key and client secrets are off: it cannot get tokens "
                        "until a new key is added (add_client_key)."
                    )
                )
            )
        payload = {"client_id": client_id, "removed": key.kid, "tokens_revoked": retirement.tokens_revoked}
        return payload, "\n".join(lines)
