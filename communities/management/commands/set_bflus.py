import re

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from communities.services import community_get, member_set_bflus


def non_negative_int(text: str) -> int:
    # ASCII digits only: str.isdigit() also takes "²" (int() then raises) and "١٢٣" (int() reads 123).
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise CommandError(
            _("AMOUNT must be a whole number of bflus, 0 or more (got %(amount)r).") % {"amount": text}
        )
    return int(text)


class Command(ServiceCommand):
    help = gettext_noop("Set a member's bflus balance (the member is created if new).")

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument(
            "client", help=gettext_lazy("The community's own reference for the member, e.g. 123.")
        )
        parser.add_argument("amount", help=gettext_lazy("The new balance, a whole number >= 0."))

    def run(self, *, client_id, client, amount, **options):
        bflus = non_negative_int(amount)
        member = member_set_bflus(
            community=community_get(client_id=client_id),
            reference=client,
            bflus=bflus,
            actor=Actor.command("set_bflus"),
        )
        return (
            {"community": client_id, "client": member.reference, "bflus": member.bflus},
            self.style.SUCCESS(
                _("Member %(member)s of %(client_id)s now has %(bflus)s bflus.")
                % {"member": member.reference, "client_id": client_id, "bflus": member.bflus}
            ),
        )
