from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from communities.services import community_get
from tokens.services import community_deactivate


class Command(ServiceCommand):
    help = gettext_noop(
        "Deactivate a community: it can get no tokens, and every token it holds is revoked now."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument("--reason", default="", help=gettext_lazy("Why, for the audit trail."))

    def run(self, *, client_id, reason, **options):
        community = community_deactivate(
            community=community_get(client_id=client_id),
            reason=reason,
            actor=Actor.command("deactivate_community"),
        )
        return (
            {"client_id": community.client_id, "is_active": community.is_active},
            self.style.SUCCESS(
                _("Community %(client_id)s is now inactive; its tokens are revoked.")
                % {"client_id": community.client_id}
            ),
        )
