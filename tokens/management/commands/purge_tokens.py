from datetime import timedelta

from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from audit.services import Actor
from bfluence.commands import ServiceCommand, duration_argument
from communities.services import usage_days_flush
from tokens.services import tokens_purge


class Command(ServiceCommand):
    help = gettext_noop(
        "Delete records of tokens expired longer ago than --older-than (default 30d), in batches, and "
        "save the day counters of API calls and failed authentications for the console."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=duration_argument,
            default=timedelta(days=30),
            help=gettext_lazy("Delete records of tokens expired longer ago than this (default 30d)."),
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help=gettext_lazy("Rows deleted per transaction (default 5000), so serving goes on meanwhile."),
        )

    def run(self, *, older_than, batch_size, **options):
        deleted = tokens_purge(
            older_than=older_than, batch_size=max(1, batch_size), actor=Actor.command("purge_tokens")
        )
        # The daily job also keeps the console's usage counts; its JSON stays SPEC §4's {"deleted"}.
        usage_days = usage_days_flush()
        return {"deleted": deleted}, self.style.SUCCESS(
            ngettext(
                "%(count)d expired token record deleted.", "%(count)d expired token records deleted.", deleted
            )
            % {"count": deleted}
            + " "
            + ngettext(
                "Usage of %(days)d community-day saved.",
                "Usage of %(days)d community-days saved.",
                usage_days,
            )
            % {"days": usage_days}
        )
