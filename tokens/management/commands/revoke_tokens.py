from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from audit.services import Actor
from bfluence.commands import ServiceCommand
from communities.services import community_get
from tokens.services import jtis_not_issued_to, tokens_revoke, tokens_revoke_all


class Command(ServiceCommand):
    help = gettext_noop("Revoke a community's tokens now: all of them, or the listed jtis.")

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--all", action="store_true", help=gettext_lazy("Every outstanding token of the community.")
        )
        which.add_argument(
            "--jti",
            nargs="+",
            metavar="JTI",
            help=gettext_lazy(
                "Only these tokens; each must be one issued to this community, else nothing "
                "is revoked and the command fails."
            ),
        )
        parser.add_argument("--reason", default="", help=gettext_lazy("Why, for the audit trail."))

    def run(self, *, client_id, all, jti, reason, **options):
        community = community_get(client_id=client_id)
        actor = Actor.command("revoke_tokens")
        if all:
            revoked = tokens_revoke_all(community=community, actor=actor, reason=reason)
        else:
            # A typo or another community's jti must not pass as "0 revoked": the operator believes it worked.
            strangers = jtis_not_issued_to(community=community, jtis=jti)
            if strangers:
                raise CommandError(
                    _("No token of %(client_id)s has the jti %(jtis)s; nothing was revoked.")
                    % {"client_id": client_id, "jtis": ", ".join(strangers)}
                )
            revoked = tokens_revoke(community=community, jtis=jti, actor=actor, reason=reason)
        return (
            {"client_id": client_id, "revoked": revoked},
            self.style.SUCCESS(
                ngettext(
                    "%(count)d token of %(client_id)s revoked.",
                    "%(count)d tokens of %(client_id)s revoked.",
                    revoked,
                )
                % {"count": revoked, "client_id": client_id}
            ),
        )
