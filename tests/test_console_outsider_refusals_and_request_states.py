"""The staff console (pt-BR) during an incident: an outsider guessing a community's secret cannot push
staff actions off its history (its refusals are counted apart, with a link to them); the communities list
says which community has a pending revocation request; a secret a request suspended reads "suspenso"
while the request is open and "encerrado" once it is completed."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.models import ClientSecret
from tests.conftest import TEST_ACTOR, make_community
from tests.test_admin import url
from tests.test_console_safety import login
from tests.test_console_wording import _secret_states
from tokens.models import RevocationRequest
from tokens.services import community_rotate_secret, revocation_request_handle, revocation_request_open

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _outsider_refusals(client_id: str, count: int) -> None:
    """As ``client_refuse`` writes a wrong secret naming a known client_id: no community, anonymous."""
    for _attempt in range(count):
        audit_record(
            event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED,
            actor=Actor.anonymous(),
            community=None,
            client_id=client_id,
            details={"reason": "invalid_client", "method": "client_secret"},
        )


# --- A. an outsider's guesses cannot push staff actions off the community's history --------------------


def test_an_outsiders_refusals_cannot_push_a_staff_rotation_off_the_history(client, acme):
    user = login(client, "sue", "security")
    community_rotate_secret(community=acme.community, actor=Actor.staff(user), reason="routine")
    _outsider_refusals("acme", 250)
    older = AuditEvent.objects.filter(client_id="acme", community=None).order_by("id")[:10]
    AuditEvent.objects.filter(pk__in=[event.pk for event in older]).update(
        occurred_at=timezone.now() - timedelta(days=3)
    )
    # A refusal by someone holding a real credential (the policy said no) names the community: a row.
    audit_record(
        event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED,
        actor=Actor.anonymous(),
        community=acme.community,
        details={"reason": "method_not_allowed", "method": "client_secret"},
    )

    html = client.get(url("communities_community_history", acme.community.pk)).content.decode()
    rows = html.split('id="community-history">', 1)[1]
    assert "history-secret_rotated" in rows
    assert rows.count("history-client_auth_failed") == 1  # the policy refusal, not the 250 guesses
    summary = _text(html.split('id="outsider-refusals">', 1)[1].split("</div>", 1)[0])
    assert "chamador sem credencial válida (client_id: acme)" in summary
    assert "240 nas últimas 24 horas" in summary and "250 no total" in summary, summary
    link = re.search(r'id="outsider-refusals-link" href="([^"]+)"', html)
    assert link
    listed = client.get(link.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 250  # exactly those refusals, not the policy refusal


def test_the_history_says_when_no_outsider_refusal_names_the_client_id(client, acme):
    login(client, "sam", "support")
    html = client.get(url("communities_community_history", acme.community.pk)).content.decode()
    summary = _text(html.split('id="outsider-refusals">', 1)[1].split("</div>", 1)[0])
    assert "Nenhuma autenticação recusada de chamador sem credencial válida (client_id: acme)" in summary


# --- B. the communities list shows a pending revocation request ----------------------------------------


def _secrets_cell(listed: str, client_id: str) -> str:
    row = listed.split(f">{client_id}</a></th>", 1)[1].split("</tr>", 1)[0]
    return row.split('class="field-secrets_summary">', 1)[1].split("</td>", 1)[0]


def test_the_communities_list_shows_a_pending_request_in_the_secrets_column(client, acme, globex):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    user = login(client, "sue", "security")
    listed = client.get(url("communities_community_changelist")).content.decode()
    cell = _secrets_cell(listed, "acme")
    assert "suspensos — pedido de revogação pendente" in _text(cell), cell
    assert f'href="{url("tokens_revocationrequest_change", revocation.pk)}"' in cell
    assert "pendente" not in _text(_secrets_cell(listed, "globex"))

    revocation_request_handle(revocation=revocation, staff_user=user)
    listed = client.get(url("communities_community_changelist")).content.decode()
    assert "pendente" not in _text(_secrets_cell(listed, "acme"))


def test_the_communities_list_reads_pending_requests_without_a_query_per_row(client):
    login(client, "sam", "support")

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("communities_community_changelist")).status_code == 200
        return len(queries.captured_queries)

    for client_id in ("c-one", "c-two"):
        created = make_community(client_id)
        revocation_request_open(community=created.community, reason="leak", actor=TEST_ACTOR)
    two = queries_for_the_list()
    for client_id in ("c-three", "c-four", "c-five"):
        created = make_community(client_id)
        revocation_request_open(community=created.community, reason="leak", actor=TEST_ACTOR)
    assert queries_for_the_list() == two


# --- C. "suspenso" while the request is open, "encerrado" once it is completed -------------------------


def _request_secrets(page: str) -> str:
    field = page.split("field-suspended_secrets_shown", 1)[1]
    return _text(field.split('<div class="readonly">', 1)[1].split("</div>", 1)[0])


def _two_secrets_suspended(community) -> tuple[set[str], RevocationRequest]:
    community_rotate_secret(community=community, actor=TEST_ACTOR, grace=timedelta(days=1))
    both = {secret.hint for secret in ClientSecret.objects.filter(community=community)}
    assert len(both) == 2
    return both, revocation_request_open(community=community, reason="leak", actor=TEST_ACTOR)


def test_the_community_page_says_suspenso_while_the_request_is_open_then_encerrado(client, acme):
    both, revocation = _two_secrets_suspended(acme.community)
    user = login(client, "sue", "security")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert _secret_states(page) == dict.fromkeys(both, "suspenso")

    revocation_request_handle(revocation=revocation, staff_user=user)
    assert RevocationRequest.objects.get(pk=revocation.pk).status == RevocationRequest.Status.DONE
    states = _secret_states(
        client.get(url("communities_community_change", acme.community.pk)).content.decode()
    )
    assert {hint: states[hint] for hint in both} == dict.fromkeys(both, "encerrado"), states
    assert "suspenso" not in states.values()


def test_the_request_page_lists_its_secrets_suspended_then_ended_at_completion(client, acme):
    both, revocation = _two_secrets_suspended(acme.community)
    user = login(client, "sue", "security")
    said = _request_secrets(
        client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    )
    assert "2 segredos, suspensos por este pedido até a conclusão" in said, said
    assert all(hint in said for hint in both)

    revocation_request_handle(revocation=revocation, staff_user=user)
    said = _request_secrets(
        client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    )
    assert "2 segredos, suspensos por este pedido e encerrados na conclusão" in said, said
    assert all(hint in said for hint in both)


def test_one_suspended_secret_of_a_completed_request_reads_in_the_singular(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    user = login(client, "sue", "security")
    revocation_request_handle(revocation=revocation, staff_user=user)
    request_page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    assert "1 segredo, suspenso por este pedido e encerrado na conclusão" in _request_secrets(request_page)
