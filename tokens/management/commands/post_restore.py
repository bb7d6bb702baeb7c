from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.export import audit_export_parse
from audit.services import Actor
from bfluence.commands import ServiceCommand
from tokens.services.restore import post_restore


def _since(text: str) -> datetime:
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            _("--since must be an ISO 8601 time, e.g. 2026-12-01T03:00:00Z (got %(text)r).") % {"text": text}
        )
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(ServiceCommand):
    help = gettext_noop(
        "After a database restore: re-apply every credential cut-off the audit export (AUDIT_EXPORT) "
        "records since --since, import those audit rows, and open a revocation request for each community "
        "left with no working secret. Run it before the service starts again."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--events", required=True, help=gettext_lazy("The audit export file (AUDIT_EXPORT).")
        )
        parser.add_argument(
            "--since",
            required=True,
            help=gettext_lazy(
                "ISO 8601 time (no offset: UTC); take it before the backup was made, e.g. its start."
            ),
        )

    def run(self, *, events, since, **options):
        moment = _since(since)
        try:
            with open(events, encoding="utf-8") as export:
                rows = audit_export_parse(export, since=moment)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(
                _("Cannot read the audit export %(path)s: %(error)s") % {"path": events, "error": error}
            ) from error
        report = post_restore(rows=rows, actor=Actor.command("post_restore"))
        payload = {
            "reapplied": report.reapplied,
            "audit_rows_imported": report.audit_rows_imported,
            "communities_without_secret": report.communities_without_secret,
        }
        lines = [
            self.style.SUCCESS(_("Cut-offs re-applied: %(count)d") % {"count": report.reapplied}),
            _("Audit rows imported: %(count)d") % {"count": report.audit_rows_imported},
        ]
        if report.communities_without_secret:
            lines.append(
                self.style.WARNING(
                    _(
                        "Left with no working secret (a revocation request waits for staff in the console): "
                        "%(client_ids)s"
                    )
                    % {"client_ids": ", ".join(report.communities_without_secret)}
                )
            )
        return payload, "\n".join(lines)
