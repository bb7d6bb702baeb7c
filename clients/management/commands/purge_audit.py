from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand, duration_argument
from bfluence.conf import app_settings
from clients.services import audit_failures_purge


class Command(ServiceCommand):
    help = gettext_noop(
        "Delete failed-authentication audit rows of unknown clients older than --failures-older-than "
        "(default AUDIT_FAILURE_RETENTION, 90d), in batches; every other audit row is kept."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--failures-older-than",
            type=duration_argument,
            default=None,
            help=gettext_lazy("Delete such rows older than this (default AUDIT_FAILURE_RETENTION, 90d)."),
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help=gettext_lazy("Rows deleted per transaction (default 5000), so serving goes on meanwhile."),
        )

    def run(self, *, failures_older_than, batch_size, **options):
        deleted = audit_failures_purge(
            older_than=failures_older_than or app_settings().audit_failure_retention,
            batch_size=max(1, batch_size),
            actor=Actor.command("purge_audit"),
        )
        return {"deleted": deleted}, self.style.SUCCESS(
            f"{deleted} failed-authentication audit row(s) of unknown clients deleted."
        )
