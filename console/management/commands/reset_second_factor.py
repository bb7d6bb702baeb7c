from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from console.humane import factors_removed
from console.second_factor import second_factor_reset


class Command(ServiceCommand):
    help = gettext_noop(
        "Remove a staff member's second factor (authenticator app, passkeys, recovery codes): they set up a "
        "new one at their next sign-in. For when no other security member can do it in the console. "
        "Audited. To let someone in once instead, django-otp's addstatictoken USERNAME gives a one-use code."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("username", help=gettext_lazy("The staff member's username."))
        parser.add_argument(
            "--reason", required=True, help=gettext_lazy("Why, for the audit trail (who asked, how checked).")
        )

    def run(self, *, username, reason, **options):
        try:
            removed = second_factor_reset(
                username=username, actor=Actor.command("reset_second_factor"), reason=reason
            )
        except get_user_model().DoesNotExist as error:
            raise CommandError(_("No staff account is called %(name)s.") % {"name": username}) from error
        text = _("Second factor of %(name)s reset. What was removed: %(what)s.") % {
            "name": username,
            "what": factors_removed(removed),
        }
        return {"username": username, "devices_removed": removed.devices}, text
