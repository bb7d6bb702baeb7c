import signal
import time

from django.db import close_old_connections
from django.utils.translation import gettext_lazy, gettext_noop

from bfluence.commands import ServiceCommand
from notifications.services import notifications_deliver_due


class Command(ServiceCommand):
    help = gettext_noop(
        "Deliver partner security notifications (SPEC §2.10): runs until stopped, or with --once delivers "
        "everything due now and exits. Any number of workers may run at once."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--once", action="store_true", help=gettext_lazy("Deliver what is due now, then exit.")
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=2.0,
            help=gettext_lazy("Seconds between looks at the outbox (default 2)."),
        )

    def run(self, *, once, interval, **options):
        if once:
            run = notifications_deliver_due()
            payload = {"delivered": run.delivered, "failed": run.failed, "pending": run.pending}
            text = f"Delivered {run.delivered}, failed {run.failed}, still pending {run.pending}."
            return payload, self.style.SUCCESS(text)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        while not stopping:
            close_old_connections()  # a long-running process: drop a connection the database closed
            notifications_deliver_due()
            time.sleep(interval)
        return {}, "Stopped."
