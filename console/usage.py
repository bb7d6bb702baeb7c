"""Usage at a glance for one community, read from records the service keeps anyway (no extra writes).

Tokens issued and failed client authentications come from the audit trail; both are counted per day
in the staff member's zone over the last 30 days, and drawn as a small server-side SVG (no script, no
CDN). The chart is meant to answer "is anyone still using the old secret, and is someone guessing?".
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from communities.models import Community

DAYS = 30
Event = AuditEvent.EventType


@dataclass(frozen=True)
class Usage:
    days: list[date]
    issued: list[int]
    failed: list[int]
    last_seen: datetime | None  # the last token issued

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
    mine = Q(community=community) | Q(community__isnull=True, client_id=community.client_id)
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
    return Usage(
        days=calendar,
        issued=[counts.get((day, Event.TOKEN_ISSUED), 0) for day in calendar],
        failed=[counts.get((day, Event.CLIENT_AUTH_FAILED), 0) for day in calendar],
        last_seen=last_seen,
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
