"""Communities and members: their records, reactivation and bflus balances.

What also touches credentials lives one layer up, in ``tokens.services.onboarding``: onboarding (the
community with its first secret), deactivation (which revokes its tokens) and the demo community.
"""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from bfluence.conf import app_settings
from bfluence.scrub import scrub
from bfluence.usage import API_CALLS, AUTH_FAILURES, usage_day, usage_read
from communities.models import Community, Member, UsageDay
from notifications import events
from notifications.services import notify

Event = AuditEvent.EventType
MIN_TOKEN_LIFETIME = timedelta(seconds=1)


def permissions_validate(codes: list[str]) -> list[str]:
    """Codes from the catalogue (SPEC §3), deduplicated, in catalogue order."""
    catalogue = app_settings().permission_catalogue
    unknown = [code for code in codes if code not in catalogue]
    if unknown:
        raise ValidationError(
            _("Unknown permission(s): %(unknown)s. Known: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(catalogue)}
        )
    return [code for code in catalogue if code in codes]


def token_lifetime_validate(lifetime: timedelta | None) -> timedelta | None:
    default = app_settings().access_token_lifetime
    if lifetime is not None and not MIN_TOKEN_LIFETIME <= lifetime <= default:
        raise ValidationError(
            _("The token lifetime must be between 1 second and the default (%(default)s seconds).")
            % {"default": int(default.total_seconds())}
        )
    return lifetime


def client_id_validate(client_id: str) -> str:
    """A new community's client_id: its form, and no other community's, ignoring letter case. Forms call
    this to show the error beside the field, with every other field's; ``community_register`` checks
    again (``full_clean`` and the constraint)."""
    Community._meta.get_field("client_id").run_validators(client_id)
    if Community.objects.filter(client_id__iexact=client_id).exists():
        raise ValidationError(_("A community with this client ID, ignoring letter case, already exists."))
    return client_id


def community_get(*, client_id: str) -> Community:
    try:
        return Community.objects.get(client_id=client_id)
    except Community.DoesNotExist as error:
        raise ValidationError(
            _("No community has client_id %(client_id)r.") % {"client_id": client_id}
        ) from error


@transaction.atomic
def community_register(
    *,
    client_id: str,
    name: str,
    actor: Actor,
    permissions: list[str] | None = None,
    token_lifetime: timedelta | None = None,
) -> Community:
    """The community's record and its audit row. Onboarding (``tokens.services.community_create``) calls
    this and adds the first secret in the same transaction."""
    name = scrub(name)
    community = Community(
        client_id=client_id,
        name=name,
        permissions=permissions_validate(permissions or []),
        token_lifetime=token_lifetime_validate(token_lifetime),
    )
    community.full_clean()  # also checks "equal ignoring case" (Community.Meta.constraints)
    try:
        with transaction.atomic():
            community.save()
    except IntegrityError as error:  # the same client_id created at the same moment, by someone else
        raise ValidationError(
            _("A community with this client ID, ignoring letter case, already exists.")
        ) from error
    audit_record(
        event_type=Event.COMMUNITY_CREATED,
        actor=actor,
        community=community,
        details={"name": name, "permissions": community.permissions},
    )
    return community


@transaction.atomic
def community_update(
    *,
    community: Community,
    actor: Actor,
    name: str,
    permissions: list[str],
    token_lifetime: timedelta | None,
    reason: str = "",
) -> Community:
    """Staff edits: name, permissions (withdrawn ones stop working at once) and token lifetime."""
    name = scrub(name)
    stored = Community.objects.select_for_update().get(pk=community.pk)
    before = {
        "name": stored.name,
        "permissions": stored.permissions,
        "token_lifetime": int(stored.token_lifetime.total_seconds()) if stored.token_lifetime else None,
    }
    community.name = name
    community.permissions = permissions_validate(permissions)
    community.token_lifetime = token_lifetime_validate(token_lifetime)
    community.full_clean()
    community.save(update_fields=["name", "permissions", "token_lifetime", "updated_at"])
    after = {
        "name": name,
        "permissions": community.permissions,
        "token_lifetime": int(token_lifetime.total_seconds()) if token_lifetime else None,
    }
    changed = {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}
    if changed:
        audit_record(
            event_type=Event.COMMUNITY_UPDATED,
            actor=actor,
            community=community,
            details={**changed, **({"reason": reason} if reason else {})},
        )
    return community


@transaction.atomic
def community_reactivate(*, community: Community, actor: Actor, reason: str = "") -> Community:
    """Reactivation lets the community ask for new tokens; the revoked ones stay revoked."""
    Community.objects.filter(pk=community.pk).update(is_active=True)
    community.is_active = True
    audit_record(
        event_type=Event.COMMUNITY_REACTIVATED, actor=actor, community=community, details={"reason": reason}
    )
    notify(community=community, event=events.COMMUNITY_REACTIVATED)
    return community


@transaction.atomic
def member_set_bflus(
    *, community: Community, reference: str, bflus: int, actor: Actor, reason: str = ""
) -> Member:
    """Set a member's balance, creating the member if new."""
    member = Member.objects.select_for_update().filter(
        community=community, reference=reference
    ).first() or Member(community=community, reference=reference)
    previous = member.bflus if member.pk else None
    member.bflus = bflus
    member.full_clean()
    member.save()
    audit_record(
        event_type=Event.MEMBER_BALANCE_SET,
        actor=actor,
        community=community,
        details={
            "member": reference,
            "previous": previous,
            "bflus": bflus,
            **({"reason": reason} if reason else {}),
        },
    )
    return member


def usage_days_flush(*, days: int = 3) -> int:
    """Copy the cache's day counters (``bfluence.usage``) of the last ``days`` days into ``UsageDay``.

    Idempotent: a day's stored count only ever grows to the counted value. Unknown client_ids'
    counters are left to expire. Returns how many community-days were written.
    """
    today = usage_day()
    calendar = [today - timedelta(days=offset) for offset in range(days)]
    communities = dict(Community.objects.values_list("client_id", "pk"))
    if not communities:
        return 0
    counted = usage_read(list(communities), calendar)
    per_day: dict[tuple[int, date], dict[str, int]] = {}
    for (client_id, day, kind), count in counted.items():
        per_day.setdefault((communities[client_id], day), {})[kind] = count
    written = 0
    for (community_id, day), counts in per_day.items():
        with transaction.atomic():
            row, _created = UsageDay.objects.select_for_update().get_or_create(
                community_id=community_id, day=day
            )
            row.api_calls = max(row.api_calls, counts.get(API_CALLS, 0))
            row.auth_failures = max(row.auth_failures, counts.get(AUTH_FAILURES, 0))
            row.save(update_fields=["api_calls", "auth_failures"])
        written += 1
    return written
