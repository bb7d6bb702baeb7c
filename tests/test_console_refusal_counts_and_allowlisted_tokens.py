"""A fresh-eyes review of the console (pt-BR), through Django's test client: the community history counts
the refusals of callers without a valid credential from the usage figures (past the audit cap and for
malformed secrets they are only counted, not recorded one by one), and never calls a policy refusal's
actor unauthenticated; a token the allowlist refuses from the address it was issued to says so."""

import re
from datetime import timedelta

import pytest

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from bfluence.usage import usage_day
from clients.services import PolicyChange, client_auth_policy_set
from communities.models import UsageDay
from tests.conftest import TEST_ACTOR
from tests.test_admin import url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_outsider_refusals_and_request_states import _outsider_refusals
from tests.test_console_policy_refused_tokens_and_reader_wording import _row
from tests.test_console_safety import login

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _counted_failures(community, count: int, *, days_ago: int = 2) -> None:
    """As ``usage_days_flush`` saves a day's counter: every refusal naming the client_id, audited or not."""
    day = usage_day() - timedelta(days=days_ago)
    UsageDay.objects.create(community=community, day=day, auth_failures=count)


def _summary(client, community) -> str:
    html = client.get(url("communities_community_history", community.pk)).content.decode()
    return _text(html.split('id="outsider-refusals">', 1)[1].split("</div>", 1)[0])


# --- 1. the history's count of refusals is the usage figures', not only the audited rows --------------


def test_refusals_only_counted_past_the_audit_cap_are_not_said_to_be_none(client, acme):
    _counted_failures(acme.community, 391)
    login(client, "sam", "support")
    page = _text(client.get(url("communities_community_change", acme.community.pk)).content.decode())
    assert re.search(r"Autenticações recusadas 391", page)
    summary = _summary(client, acme.community)
    assert "Nenhuma" not in summary, summary
    assert "391 nos últimos 30 dias" in summary, summary
    assert "nenhuma registrada uma a uma na trilha de auditoria" in summary, summary
    assert "além de 100 por hora por client_id" in summary, summary


def test_the_history_says_how_many_of_the_counted_refusals_the_audit_trail_records(client, acme):
    _outsider_refusals("acme", 100)
    _counted_failures(acme.community, 130, days_ago=0)  # the same day: 30 of them past the audit cap
    login(client, "sam", "support")
    summary = _summary(client, acme.community)
    assert "130 nos últimos 30 dias" in summary, summary
    assert "100 nas últimas 24 horas, 100 no total" in summary, summary


def test_a_malformed_secret_is_counted_in_the_history_line_though_it_writes_no_row(api, client, acme):
    response = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": "not-even-a-secret"}, format="json"
    )
    assert response.status_code == 401
    assert not AuditEvent.objects.filter(event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED).exists()
    login(client, "sam", "support")
    summary = _summary(client, acme.community)
    assert "1 nos últimos 30 dias" in summary, summary
    assert "Nenhuma" not in summary


def test_the_usage_caption_no_longer_says_every_other_refusal_is_in_the_history(client, acme):
    login(client, "sam", "support")
    page = _text(client.get(url("communities_community_change", acme.community.pk)).content.decode())
    assert "todas as outras recusas aparecem no histórico" not in page
    assert "além de 100 por hora por client_id" in page


# --- 2. a policy refusal's actor held a valid credential ---------------------------------------------


def test_a_policy_refusal_is_not_called_an_unauthenticated_caller(client, acme):
    audit_record(
        event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED,
        actor=Actor.anonymous(),
        community=acme.community,
        client_id="acme",
        details={"reason": "ip_not_allowed", "method": "client_secret"},
    )
    login(client, "sue", "security")
    html = client.get(url("communities_community_history", acme.community.pk)).content.decode()
    rows = _text(html.split('id="community-history">', 1)[1])
    assert "chamador não autenticado" not in rows, rows
    assert "parceiro (credencial válida, recusada pela política; client_id: acme)" in rows, rows
    summary = _summary(client, acme.community)
    assert "Nenhuma autenticação recusada de chamador sem credencial válida (client_id: acme)" in summary


# --- 3. a token the allowlist refuses from the address it was issued to ------------------------------


def _allowlist(community, *, applies_to_api: bool) -> None:
    change = PolicyChange(allowed_ips=["203.0.113.0/24"], allowlist_applies_to_api=applies_to_api)
    client_auth_policy_set(community=community, change=change, actor=TEST_ACTOR)


def _issued_from(community, jti: str, source_ip: str):
    token = _token(community, jti=jti)
    token.source_ip = source_ip
    token.save()
    return token


def test_a_token_issued_outside_an_api_allowlist_is_active_and_accepted_only_from_the_list(client, acme):
    _issued_from(acme.community, "outside", "127.0.0.1")
    _issued_from(acme.community, "inside", "203.0.113.9")
    _allowlist(acme.community, applies_to_api=True)
    login(client, "sue", "security")
    listed = client.get(url("tokens_issuedtoken_changelist")).content.decode()
    assert "recusado" not in _row(listed, "outside") and "ativo" in _row(listed, "outside")
    assert "recusado" not in _row(listed, "inside")
    page = _text(client.get(url("tokens_issuedtoken_change", "outside")).content.decode())
    assert "ativo (aceito só de IPs da lista de permissões)" in page and "recusado" not in page
    inside_page = _text(client.get(url("tokens_issuedtoken_change", "inside")).content.decode())
    assert "ativo (aceito só de IPs da lista de permissões)" in inside_page


def test_an_allowlist_for_token_requests_only_leaves_the_token_active(client, acme):
    _issued_from(acme.community, "outside", "127.0.0.1")
    _allowlist(acme.community, applies_to_api=False)
    login(client, "sue", "security")
    row = _row(client.get(url("tokens_issuedtoken_changelist")).content.decode(), "outside")
    assert "recusado" not in row and "ativo" in row
    page = _text(client.get(url("tokens_issuedtoken_change", "outside")).content.decode())
    assert "lista de permissões" not in page
