"""After a database restore (SPEC §4 ``post_restore``): what the restore undid, done again, from the audit
export (SPEC §6 ``AUDIT_EXPORT``).

A restored database is older than the truth (a rotated secret, a revoked token, a retired key works
again). This re-applies every cut-off the export records, and the last policy and permissions, puts the
audit rows back, and opens a revocation request for each community left with no working secret. Fail
closed (an end only moves earlier, nothing is re-enabled); running it twice changes nothing more.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from bfluence.scrub import scrub_value
from clients.models import ClientKey, ClientSecret
from clients.services import PolicyChange, client_auth_policy_get, client_auth_policy_set, policy_summary
from communities.models import Community
from communities.services import community_update
from tokens.models import IssuedToken, RevocationRequest

Event = AuditEvent.EventType
Row = dict[str, Any]


@dataclass
class RestoreReport:
    reapplied: int = 0
    audit_rows_imported: int = 0
    communities_without_secret: list[str] = field(default_factory=list)
    revocation_requests_opened: int = 0


@transaction.atomic
def post_restore(*, rows: list[Row], actor: Actor) -> RestoreReport:
    """Re-apply the cut-offs of ``rows`` (audit.export.audit_export_parse), import the rows the database
    lacks, and open a revocation request for each community the cut-offs left with no working secret.

    One transaction: the restored database is either brought up to the export or left as it was.
    """
    report = RestoreReport()
    communities = _communities_of(rows)
    # Every community the export names is locked first, as every cut-off does.
    list(Community.objects.select_for_update().filter(pk__in=set(communities.values())).order_by("pk"))
    still_deactivated = _last_word_on_activation(rows)
    touched: set[int] = set()
    for row in rows:
        community_pk = communities.get(id(row))
        reapply = _REAPPLY.get(row["event_type"])
        if community_pk is None or reapply is None:
            continue
        if row["event_type"] == Event.COMMUNITY_DEACTIVATED and community_pk not in still_deactivated:
            continue  # reactivated later in the export: the reactivation stands
        touched.add(community_pk)
        if reapply(row, community_pk):
            report.reapplied += 1
    report.reapplied += _restore_last_settings(rows, communities, actor=actor)
    report.audit_rows_imported = _import_missing(rows, communities)
    for community in Community.objects.filter(pk__in=touched).order_by("client_id"):
        if _has_working_secret(community):
            continue
        report.communities_without_secret.append(community.client_id)
        if not community.revocation_requests.filter(status=RevocationRequest.Status.PENDING).exists():
            _request_new_secret(community=community, actor=actor)
            report.revocation_requests_opened += 1
    return report


def _communities_of(rows: list[Row]) -> dict[int, int]:
    """Each row's community in the restored database: by id when the client_id still matches, else by
    client_id. A community created after the backup is not there: its rows are imported without it."""
    by_pk = dict(Community.objects.values_list("pk", "client_id"))
    by_client_id = {client_id: pk for pk, client_id in by_pk.items()}
    found = {}
    for row in rows:
        pk = row["community_id"]
        if pk is not None and by_pk.get(pk) == row["client_id"]:
            found[id(row)] = pk
        elif row["client_id"] in by_client_id:
            found[id(row)] = by_client_id[row["client_id"]]
    return found


def _last_word_on_activation(rows: list[Row]) -> set[int]:
    """Communities whose last (de)activation in the export was a deactivation, by community_id."""
    state: dict[str, bool] = {}
    for row in rows:
        if row["event_type"] in (Event.COMMUNITY_DEACTIVATED, Event.COMMUNITY_REACTIVATED):
            state[row["client_id"]] = row["event_type"] == Event.COMMUNITY_DEACTIVATED
    deactivated = [client_id for client_id, inactive in state.items() if inactive]
    return set(Community.objects.filter(client_id__in=deactivated).values_list("pk", flat=True))


def _moment(value: Any, default: datetime) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is not None and parsed.tzinfo is not None else default


def _end_secrets(row: Row, community_pk: int) -> int:
    """Rotation, early end of a grace window, compromise report: each secret ends when it ended then."""
    changed = 0
    for ended in row["details"].get("secrets_ended") or []:
        if not isinstance(ended, dict) or not isinstance(ended.get("id"), int):
            continue
        until = _moment(ended.get("valid_until"), row["occurred_at"])
        changed += (
            ClientSecret.objects.filter(
                pk=ended["id"], community_id=community_pk, created_at__lte=row["occurred_at"]
            )
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=until))
            .update(valid_until=until)
        )
    return changed


def _revoke_all(row: Row, community_pk: int) -> int:
    """ "Revoke all": the community's cut-off moment, and the records of the tokens it caught."""
    moment = row["occurred_at"]
    changed = (
        Community.objects.filter(pk=community_pk)
        .filter(Q(tokens_revoked_before__isnull=True) | Q(tokens_revoked_before__lt=moment))
        .update(tokens_revoked_before=moment)
    )
    return changed + _revoke_records(
        IssuedToken.objects.filter(community_id=community_pk, issued_at__lt=moment), row
    )


def _revoke_one(row: Row, community_pk: int) -> int:
    return _revoke_records(IssuedToken.objects.filter(pk=row["jti"], community_id=community_pk), row)


def _revoke_records(tokens: QuerySet[IssuedToken], row: Row) -> int:
    reason = row["details"].get("reason")
    updated: int = tokens.filter(revoked_at__isnull=True).update(
        revoked_at=row["occurred_at"],
        revoked_by=f"{row['actor_type']}:{row['actor']}"[:200],
        revocation_reason=(reason if isinstance(reason, str) else "")[:500],
    )
    return updated


def _retire_key(row: Row, community_pk: int) -> int:
    kid, thumbprint = row["details"].get("kid"), row["details"].get("thumbprint")
    return ClientKey.objects.filter(
        community_id=community_pk, kid=kid, thumbprint=thumbprint, retired_at__isnull=True
    ).update(retired_at=row["occurred_at"])


def _deactivate(row: Row, community_pk: int) -> int:
    return Community.objects.filter(pk=community_pk, is_active=True).update(is_active=False)


_REAPPLY: dict[str, Callable[[Row, int], int]] = {
    Event.SECRET_ROTATED: _end_secrets,
    Event.SECRET_EXPIRED: _end_secrets,
    Event.REVOCATION_REQUEST_OPENED: _end_secrets,
    Event.TOKENS_REVOKED_ALL: _revoke_all,
    Event.TOKEN_REVOKED: _revoke_one,
    Event.CLIENT_KEY_RETIRED: _retire_key,
    Event.COMMUNITY_DEACTIVATED: _deactivate,
}


def _restore_last_settings(rows: list[Row], communities: dict[int, int], *, actor: Actor) -> int:
    """A client-authentication policy or permissions changed since the backup: the last word in the
    export stands again (a tightened policy or a withdrawn permission is a cut-off too). Set through the
    services, so each is validated and audited; nothing is written when the database already agrees."""
    policies: dict[int, Row] = {}
    updates: dict[int, Row] = {}
    for row in rows:
        community_pk = communities.get(id(row))
        if community_pk is None:
            continue
        if row["event_type"] == Event.CLIENT_AUTH_POLICY_SET and isinstance(
            row["details"].get("after"), dict
        ):
            policies[community_pk] = row
        if row["event_type"] == Event.COMMUNITY_UPDATED and _changed_to(row, "permissions") is not None:
            updates[community_pk] = row
    changed = 0
    for community in Community.objects.filter(pk__in=set(policies) | set(updates)).order_by("pk"):
        if community.pk in policies:
            changed += _restore_policy(community, policies[community.pk]["details"]["after"], actor)
        if community.pk in updates:
            changed += _restore_permissions(
                community, _changed_to(updates[community.pk], "permissions"), actor
            )
    return changed


def _changed_to(row: Row, key: str) -> Any:
    change = row["details"].get(key)
    return change.get("to") if isinstance(change, dict) else None


def _restore_policy(community: Community, after: dict[str, Any], actor: Actor) -> int:
    if policy_summary(client_auth_policy_get(community=community)) == after:
        return 0
    change = PolicyChange(
        methods=after.get("methods"),
        dpop=after.get("dpop"),
        allowed_ips=after.get("allowed_ips"),
        allowlist_applies_to_api=after.get("allowlist_applies_to_api"),
    )
    if not all(isinstance(value, list | str | bool | type(None)) for value in vars(change).values()):
        return 0
    client_auth_policy_set(community=community, change=change, actor=actor, reason=_("database restored"))
    return 1


def _restore_permissions(community: Community, permissions: Any, actor: Actor) -> int:
    if not isinstance(permissions, list) or community.permissions == permissions:
        return 0
    community_update(
        community=community,
        actor=actor,
        name=community.name,
        permissions=[str(code) for code in permissions],
        token_lifetime=community.token_lifetime,
        reason=_("database restored"),
    )
    return 1


def _import_missing(rows: list[Row], communities: dict[int, int]) -> int:
    """The exported rows the restored trail lacks, added as they were (same time, actor and details).
    A row is the same row when its time, event, actor, client_id and jti match."""
    imported = 0
    for row in rows:
        same = {
            "occurred_at": row["occurred_at"],
            "event_type": row["event_type"],
            "actor_type": row["actor_type"],
            "actor": row["actor"],
            "client_id": row["client_id"],
            "jti": row["jti"],
        }
        if AuditEvent.objects.filter(**same).exists():
            continue
        AuditEvent.objects.create(
            **same,
            community_id=communities.get(id(row)),
            source_ip=row["source_ip"],
            details=scrub_value(row["details"]),
        )
        imported += 1
    return imported


def _has_working_secret(community: Community) -> bool:
    now = timezone.now()
    return (
        ClientSecret.objects.filter(community=community)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .exists()
    )


def _request_new_secret(*, community: Community, actor: Actor) -> RevocationRequest:
    """A pending request in the staff queue: completing it hands the partner a new secret."""
    request = RevocationRequest.objects.create(
        community=community,
        reason=_(
            "Database restored: the secret issued since the backup is lost and the earlier ones stay "
            "ended. Hand the partner a new secret."
        ),
        opened_by=str(actor)[:200],
    )
    audit_record(
        event_type=Event.REVOCATION_REQUEST_OPENED,
        actor=actor,
        community=community,
        details={"request_id": request.pk, "tokens_revoked": 0, "secrets_suspended": 0, "secrets_ended": []},
    )
    return request
