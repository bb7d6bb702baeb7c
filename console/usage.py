"""Usage at a glance for one community: tokens issued, failed client authentications, API calls.

Tokens issued come from the audit trail. Failed authentications and API calls are counted per day in
the cache (``bfluence.usage``: every refusal reason, malformed secrets included, which the audit trail
does not record) and saved to ``UsageDay`` daily; today's and yesterday's live counters are read too.
A day's failures are the larger of the counted and the audited number, so a cache restart never hides
audited ones. Days are the staff member's zone, over the last 30 days, drawn as small server-side SVGs
(no script, no CDN). The charts answer "is the partner calling us, is anyone still using the old
secret, and is someone guessing?".
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import AuditEvent
from audit.selectors import community_events_q
from bfluence.usage import API_CALLS, AUTH_FAILURES, usage_read
from communities.models import Community, UsageDay

DAYS = 30
Event = AuditEvent.EventType


@dataclass(frozen=True)
class Usage:
    days: list[date]
    issued: list[int]
    failed: list[int]
    last_seen: datetime | None  # the last token issued
    api_calls: list[int] | None = None

    @property
    def api_total(self) -> int:
        return sum(self.api_calls or [])

    @property
    def issued_total(self) -> int:
        return sum(self.issued)

    @property
    def failed_total(self) -> int:
        return sum(self.failed)


def community_usage(community: Community, *, days: int = DAYS) -> Usage:
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min), zone)
    mine = community_events_q(community)
    rows = (
        AuditEvent.objects.filter(
            mine, occurred_at__gte=start, event_type__in=[Event.TOKEN_ISSUED, Event.CLIENT_AUTH_FAILED]
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day", "event_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(row["day"], row["event_type"]): row["n"] for row in rows}
    calendar = [first + timedelta(days=offset) for offset in range(days)]
    last_seen = AuditEvent.objects.filter(community=community, event_type=Event.TOKEN_ISSUED).aggregate(
        last=Max("occurred_at")
    )["last"]
    counted = _counted(community, calendar)
    return Usage(
        days=calendar,
        issued=[counts.get((day, Event.TOKEN_ISSUED), 0) for day in calendar],
        failed=[
            max(counts.get((day, Event.CLIENT_AUTH_FAILED), 0), counted.get((day, AUTH_FAILURES), 0))
            for day in calendar
        ],
        last_seen=last_seen,
        api_calls=[counted.get((day, API_CALLS), 0) for day in calendar],
    )


def _counted(community: Community, calendar: list[date]) -> dict[tuple[date, str], int]:
    """Saved day counts, raised to the live cache counters of the last two days (not flushed yet)."""
    counted: dict[tuple[date, str], int] = {}
    for row in UsageDay.objects.filter(community=community, day__gte=calendar[0]):
        counted[(row.day, API_CALLS)] = row.api_calls
        counted[(row.day, AUTH_FAILURES)] = row.auth_failures
    try:
        live = usage_read([community.client_id], calendar[-2:])
    except Exception:  # the cache is down: the saved counts are still right up to the last flush
        live = {}
    for (_client_id, day, kind), count in live.items():
        counted[(day, kind)] = max(counted.get((day, kind), 0), count)
    return counted


def outsider_refusals_counted(community: Community, usage: Usage) -> int:
    """The refusals of callers with no valid credential naming the community's client_id over ``usage``'s
    days, as the usage figures count them (malformed secrets and those past the per-client_id audit cap
    included): every failure counted, less the refusals of a real credential, which name the community
    and are audited (except one a rate limit answered 429 first, or one past their own per-client_id
    allowance, ``AUDIT_CREDENTIAL_REFUSALS_PER_CLIENT``: it has no row, so it is counted here too). Per
    day a failure figure is at least that day's audited rows, so the difference never goes below the
    refusals the audit trail holds for those days."""
    start = timezone.make_aware(datetime.combine(usage.days[0], time.min), timezone.get_current_timezone())
    by_policy = AuditEvent.objects.filter(
        community=community, event_type=Event.CLIENT_AUTH_FAILED, occurred_at__gte=start
    ).count()
    return max(usage.failed_total - by_policy, 0)


def api_chart(usage: Usage) -> SafeString:
    """Bars: API calls per day (the partner's calls with its tokens)."""
    calls = usage.api_calls or [0] * len(usage.days)
    peak = max([*calls, 1])
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / len(usage.days)

    def y(value: int) -> float:
        return TOP + plot_height - plot_height * value / peak

    bars = format_html_join(
        "",
        '<rect class="bar-api" x="{}" y="{}" width="{}" height="{}" fill="#5b8a3c"><title>{}: {}</title></rect>',
        (
            (
                f"{LEFT + i * slot + 1:.1f}",
                f"{y(n):.1f}",
                f"{max(slot - 2, 1):.1f}",
                f"{TOP + plot_height - y(n):.1f}",
                date_format(day, "SHORT_DATE_FORMAT"),
                ngettext("%(count)s API call", "%(count)s API calls", n) % {"count": n},
            )
            for i, (day, n) in enumerate(zip(usage.days, calls))
        ),
    )
    return format_html(
        '<svg id="api-chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg" data-calls="{total}" font-family="sans-serif" font-size="11">'
        "<title>{title}</title>"
        '<line x1="{left}" y1="{base}" x2="{w}" y2="{base}" stroke="#999"/>'
        '<text x="{left_text}" y="{top_text}" text-anchor="end">{peak}</text>'
        '<text x="{left_text}" y="{base}" text-anchor="end">0</text>{bars}'
        '<text x="{left}" y="{h_text}">{first}</text><text x="{w}" y="{h_text}" text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        left=LEFT,
        base=TOP + plot_height,
        left_text=LEFT - 4,
        top_text=TOP + 4,
        peak=peak,
        h_text=HEIGHT - 6,
        bars=bars,
        total=usage.api_total,
        title=_("API calls per day, last %(days)s days") % {"days": len(usage.days)},
        first=date_format(usage.days[0], "SHORT_DATE_FORMAT"),
        last=date_format(usage.days[-1], "SHORT_DATE_FORMAT"),
    )


WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 190, 36, 24, 12


def usage_chart(usage: Usage) -> SafeString:
    """Bars: tokens issued per day. Red line: failed authentications. Each day has a tooltip."""
    peak = max([*usage.issued, *usage.failed, 1])
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / len(usage.days)

    def y(value: int) -> float:
        return TOP + plot_height - plot_height * value / peak

    def num(value: float) -> str:
        return f"{value:.1f}"

    bars = format_html_join(
        "",
        '<rect class="bar-issued" x="{}" y="{}" width="{}" height="{}" '
        'fill="#417690"><title>{}: {}</title></rect>',
        (
            (
                num(LEFT + i * slot + 1),
                num(y(n)),
                num(max(slot - 2, 1)),
                num(TOP + plot_height - y(n)),
                date_format(day, "SHORT_DATE_FORMAT"),
                _("%(issued)s issued, %(failed)s failed") % {"issued": n, "failed": f},
            )
            for i, (day, n, f) in enumerate(zip(usage.days, usage.issued, usage.failed))
        ),
    )
    points = " ".join(f"{LEFT + (i + 0.5) * slot:.1f},{y(f):.1f}" for i, f in enumerate(usage.failed))
    return format_html(
        '<svg id="usage-chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg" data-issued="{issued}" data-failed="{failed}" '
        'font-family="sans-serif" font-size="11">'
        "<title>{title}</title>"
        '<line x1="{left}" y1="{base}" x2="{w}" y2="{base}" stroke="#999"/>'
        '<text x="{left_text}" y="{top_text}" text-anchor="end">{peak}</text>'
        '<text x="{left_text}" y="{base}" text-anchor="end">0</text>'
        '{bars}<polyline class="line-failed" points="{points}" fill="none" stroke="#ba2121" stroke-width="2"/>'
        '<text x="{left}" y="{h_text}">{first}</text><text x="{w}" y="{h_text}" text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        left=LEFT,
        base=TOP + plot_height,
        left_text=LEFT - 4,
        top_text=TOP + 4,
        peak=peak,
        h_text=HEIGHT - 6,
        bars=bars,
        points=points,
        issued=usage.issued_total,
        failed=usage.failed_total,
        title=_("Tokens issued (bars) and failed authentications (red line) per day, last %(days)s days")
        % {"days": len(usage.days)},
        first=date_format(usage.days[0], "SHORT_DATE_FORMAT"),
        last=date_format(usage.days[-1], "SHORT_DATE_FORMAT"),
    )
