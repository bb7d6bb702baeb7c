"""What the bearer check records besides its log line: API calls a community's policy refused."""

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from communities.models import Community


def api_call_refused(
    *, community_id: int, client_id: str, jti: str, source_ip: str | None, reason: str
) -> None:
    """The audit row for an API call refused by the community's policy (e.g. outside its allowlist)."""
    audit_record(
        event_type=AuditEvent.EventType.API_CALL_REFUSED,
        actor=Actor.anonymous(),
        community=Community(pk=community_id, client_id=client_id),
        jti=jti,
        source_ip=source_ip,
        details={"reason": reason},
    )
