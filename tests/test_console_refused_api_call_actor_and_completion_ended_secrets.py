"""A fresh-eyes review of the console (pt-BR), through Django's test client: an API call the allowlist
refused carried the partner's real token, so its row never calls the caller unauthenticated; completing a
revocation request names, in its rotation's row, the secrets the request had suspended and it ended."""

import re

import pytest

from audit.models import AuditEvent
from clients.models import ClientSecret
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, get_bflus, issue_token
from tests.test_admin import url
from tests.test_console_review_fixes import _open_in_console
from tests.test_console_safety import login

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- 1. a refused API call is the partner's ----------------------------------------------------------


def test_an_api_call_refused_outside_the_allowlist_reads_as_the_partners(api, client, acme):
    token = issue_token(api, acme)
    change = PolicyChange(allowed_ips=["203.0.113.0/24"], allowlist_applies_to_api=True)
    client_auth_policy_set(community=acme.community, actor=TEST_ACTOR, change=change)
    assert get_bflus(api, token, REMOTE_ADDR="198.51.100.1").status_code == 401

    event = AuditEvent.objects.get(event_type=AuditEvent.EventType.API_CALL_REFUSED)
    shown = "parceiro (token válido, chamada recusada por vir de fora da lista de IPs permitidos; client_id: acme)"
    assert event.actor_label == shown
    login(client, "sue", "security")
    changelist = client.get(
        f"{url('audit_auditevent_changelist')}?community__id__exact={acme.community.pk}"
        "&event_type__exact=api_call_refused"
    ).content.decode()
    listed = _text(changelist.split('id="result_list"', 1)[1].split("</table>", 1)[0])
    assert shown in listed and "não autenticado" not in listed, listed
    page = _text(client.get(url("audit_auditevent_change", event.pk)).content.decode())
    assert shown in page, page


# --- 2. a completion names the suspended secrets it ended -----------------------------------------------


def test_a_completion_names_the_suspended_secret_it_ended_in_its_rotation_row(client, acme):
    suspended = ClientSecret.objects.get(community=acme.community)
    revocation = _open_in_console(client, acme.community)
    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", revocation.pk)
    shown = client.get(handle).content.decode()
    key = shown.split('name="form_key" value="')[1].split('"')[0]
    assert client.post(handle, {"reason": "done", "form_key": key}).status_code == 302

    rotated = AuditEvent.objects.get(event_type=AuditEvent.EventType.SECRET_ROTATED)
    assert rotated.details["ended_suspended_hints"] == [suspended.hint]
    assert rotated.details["ended_hints"] == []  # no secret still working ended: the request had stopped it
    history = client.get(url("communities_community_history", acme.community.pk)).content.decode()
    row = _text(history.split('class="history-secret_rotated">', 1)[1].split("</tr>", 1)[0])
    assert f"segredos suspensos pelo pedido, encerrados de vez {suspended.hint}" in row, row
    assert "segredos encerrados agora —" not in row, row
