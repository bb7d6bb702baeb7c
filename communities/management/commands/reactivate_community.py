from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from communities.services import community_get, community_reactivate


class Command(ServiceCommand):
    help = gettext_noop("Reactivate a community: it may ask for new tokens (revoked ones stay revoked).")

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument("--reason", default="", help=gettext_lazy("Why, for the audit trail."))

    def run(self, *, client_id, reason, **options):
        community = community_reactivate(
            community=community_get(client_id=client_id),
            reason=reason,
            actor=Actor.command("reactivate_community"),
        )
        return (
            {"client_id": community.client_id, "is_active": community.is_active},
            self.style.SUCCESS(
                _("Community %(client_id)s is active again.") % {"client_id": community.client_id}
            ),
        )
