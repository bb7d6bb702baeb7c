"""A fresh-eyes review of client authentication, through the API client and the pt-BR console:

1. A partner refused though it presented one of its community's real secrets (the community deactivated,
   the secret ended by a rotation or suspended by a compromise report) gets the same 401 as anyone, but
   its audit row names the community and says why, and the history lists it as the partner's: not among
   the "caller that presented no valid credential" refusals, which would send support rotating a secret
   when the community only needs reactivating.
2. Secrets not even shaped like a Bfluence secret write no audit row, so they do not spend the client_id's
   audit allowance: the well-formed guesses after them still get their rows.
"""

import re
from datetime import timedelta

import pytest

from audit.models import AuditEvent
from clients.services import secret_rotate
from tests.conftest import TEST_ACTOR
from tests.test_admin import url
from tests.test_client_auth_limits import rates
from tests.test_console_safety import login
from tokens.services import community_deactivate

Event = AuditEvent.EventType
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_window")]
PARTNER_IP = "203.0.113.7"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _token(api, client_id: str, secret: str, ip: str = PARTNER_IP):
    return api.post(
        "/auth/token", {"client_id": client_id, "client_secret": secret}, format="json", REMOTE_ADDR=ip
    )


def _history(client, community) -> str:
    login(client, "sam", "support")
    return _text(client.get(url("communities_community_history", community.pk)).content.decode())


def _assert_the_partners_refusal(client, community, *, reason: str, said: str) -> None:
    rows = AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED, client_id=community.client_id)
    assert rows.count() == 1
    row = rows.get()
    assert row.community_id == community.pk
    assert row.details == {"reason": reason, "method": "client_secret"}
    assert row.source_ip == PARTNER_IP
    history = _history(client, community)
    assert f"parceiro (credencial verdadeira da comunidade, recusada; client_id: {community.client_id})" in (
        history
    )
    assert f"motivo {said}" in history, history
    assert "chamador não autenticado" not in history
    # Not counted among the refusals of callers without a valid credential.
    assert "Nenhuma autenticação recusada de chamador sem credencial válida" in history, history


def test_a_deactivated_communitys_real_secret_is_refused_as_the_partners_with_the_community_inactive(
    api, client, acme
):
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    response = _token(api, "acme", acme.client_secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    _assert_the_partners_refusal(
        client, acme.community, reason="community_inactive", said="comunidade desativada"
    )
    # The banner on the same community says the same: reactivation is what gives it a way in.
    page = _text(client.get(url("communities_community_change", acme.community.pk)).content.decode())
    assert "reativada" in page


def test_a_secret_ended_by_a_rotation_is_refused_as_the_partners_with_the_secret_ended(api, client, acme):
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    response = _token(api, "acme", acme.client_secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    _assert_the_partners_refusal(
        client, acme.community, reason="secret_ended", said="segredo encerrado ou suspenso"
    )


def test_a_secret_suspended_by_a_compromise_report_is_refused_as_the_partners(api, client, acme):
    body = {"client_id": "acme", "client_secret": acme.client_secret, "reason": "our server was breached"}
    assert api.post("/auth/revocation-requests", body, format="json").status_code == 202
    response = _token(api, "acme", acme.client_secret)
    assert response.status_code == 401
    row = AuditEvent.objects.get(event_type=Event.CLIENT_AUTH_FAILED, client_id="acme")
    assert row.community_id == acme.community.pk
    assert row.details["reason"] == "secret_ended"


def test_a_wrong_secret_for_a_deactivated_community_still_names_no_community(api, acme, globex):
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert _token(api, "acme", globex.client_secret).status_code == 401
    row = AuditEvent.objects.get(event_type=Event.CLIENT_AUTH_FAILED, client_id="acme")
    assert row.community_id is None
    assert row.details["reason"] == "invalid_client"


def test_malformed_secrets_do_not_spend_the_audit_allowance_of_the_client_id(api, acme, globex):
    with rates(token_failures_audited="100/h", token_failures="1000/min", token_ip="1000/min"):
        for n in range(120):
            assert _token(api, "acme", "not-even-a-secret", ip=f"198.51.100.{n % 50 + 1}").status_code == 401
        assert not AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED).exists()
        for n in range(5):
            assert _token(api, "acme", globex.client_secret, ip=f"192.0.2.{n + 1}").status_code == 401
    rows = AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED, client_id="acme")
    assert rows.count() == 5
    assert set(rows.values_list("details__reason", flat=True)) == {"invalid_client"}


def test_malformed_secrets_still_count_towards_the_failure_limit(api, acme, globex):
    with rates(token_failures="3/min", token_ip="1000/min"):
        statuses = [_token(api, "acme", "not-even-a-secret").status_code for _attempt in range(4)]
    assert statuses == [401, 401, 401, 429]
