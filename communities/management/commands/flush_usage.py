from django.utils.translation import gettext_noop

from bfluence.commands import ServiceCommand
from communities.services import usage_days_flush


class Command(ServiceCommand):
    help = gettext_noop(
        "Save the cache's day counters of API calls and failed client authentications (last 3 days) "
        "for the console's usage chart. purge_tokens does it too; run this one more often if wanted."
    )

    def run(self, **options):
        written = usage_days_flush()
        return {"usage_days": written}, self.style.SUCCESS(f"Usage of {written} community-day(s) saved.")
