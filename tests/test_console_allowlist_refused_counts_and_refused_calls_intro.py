"""A fresh-eyes review of the console (pt-BR), through Django's test client: tokens an allowlist applied
to API calls refuses are counted apart on the communities list and the community page, as DPoP-refused
ones are (the list in the same number of queries however many communities); the community history says
which refused API calls have an audit row, which are only answered with an error, and that the usage
figures count none of them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import make_community
from tests.test_admin import url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_policy_refused_tokens_and_reader_wording import _require_dpop
from tests.test_console_refusal_counts_and_allowlisted_tokens import _allowlist, _issued_from
from tests.test_console_safety import login
from tokens.services import api_call_refused

pytestmark = pytest.mark.django_db


def _list_row(page: str, client_id: str) -> str:
    return _text(page.split(f">{client_id}</a>", 1)[1].split("</tr>", 1)[0])


def test_the_list_and_the_page_count_tokens_issued_outside_the_allowlist_as_working(client, acme):
    _issued_from(acme.community, "outside-1", "127.0.0.1")
    _issued_from(acme.community, "outside-2", "127.0.0.1")
    _issued_from(acme.community, "inside", "203.0.113.9")
    _allowlist(acme.community, applies_to_api=True)
    login(client, "sue", "security")
    listed = client.get(url("communities_community_changelist")).content.decode()
    row = _list_row(listed, "acme")
    assert "3" in row and "recusad" not in row
    page = _text(client.get(url("communities_community_change", acme.community.pk)).content.decode())
    assert "3 tokens" in page and "recusados pela API" not in page


def test_bearer_tokens_under_required_dpop_name_only_dpop_whatever_the_allowlist(client, acme):
    _issued_from(acme.community, "bearer-outside", "127.0.0.1")
    _issued_from(acme.community, "bearer-inside", "203.0.113.9")
    _allowlist(acme.community, applies_to_api=True)
    _require_dpop(acme.community)
    login(client, "sue", "security")
    listed = client.get(url("communities_community_changelist")).content.decode()
    assert "0 (e 2 recusados pela API: DPoP obrigatório)" in _list_row(listed, "acme")


def test_an_allowlist_for_token_requests_only_refuses_no_live_token(client, acme):
    _issued_from(acme.community, "outside", "127.0.0.1")
    _allowlist(acme.community, applies_to_api=False)
    login(client, "sue", "security")
    listed = client.get(url("communities_community_changelist")).content.decode()
    assert "recusad" not in _list_row(listed, "acme")


def test_the_list_costs_the_same_queries_for_two_and_five_communities(client, acme, globex):
    for community in (acme.community, globex.community):
        _allowlist(community, applies_to_api=True)
        _issued_from(community, f"{community.client_id}-out", "127.0.0.1")
    login(client, "sue", "security")
    communities = url("communities_community_changelist")
    client.get(communities)  # sessions, permissions and the like read once before counting
    with CaptureQueriesContext(connection) as few:
        client.get(communities)
    for name in ("initech", "umbrella", "hooli"):
        created = make_community(name)
        _allowlist(created.community, applies_to_api=True)
        _issued_from(created.community, f"{name}-out", "127.0.0.1")
        _token(created.community, jti=f"{name}-plain")
    with CaptureQueriesContext(connection) as many:
        page = client.get(communities).content.decode()
    assert len(many) == len(few)
    assert "fora da lista de IPs permitidos" not in page


def test_the_history_says_which_refused_api_calls_are_recorded_and_where(client, acme):
    api_call_refused(
        community_id=acme.community.pk,
        client_id="acme",
        jti="j1",
        source_ip="127.0.0.1",
        reason="ip_not_allowed",
    )
    login(client, "sue", "security")
    html = client.get(url("communities_community_history", acme.community.pk)).content.decode()
    intro = _text(html.split('id="history-intro">', 1)[1].split("</p>", 1)[0])
    assert "chamadas à API recusadas estão nos números de uso" not in intro
    assert (
        "Chamadas à API recusadas por virem de fora da lista de IPs permitidos têm cada uma um registro "
        "na trilha de auditoria (1 desta comunidade), não listado aqui"
    ) in intro
    assert (
        "As recusadas por outro motivo (token desconhecido, revogado ou expirado, comunidade desativada, "
        "DPoP ausente ou inválido) só recebem uma resposta de erro, sem registro."
    ) in intro
    assert "Nenhuma chamada recusada entra nas chamadas à API dos números de uso." in intro
    refused_link = (
        f"{url('audit_auditevent_changelist')}?community__id__exact={acme.community.pk}"
        "&amp;event_type__exact=api_call_refused"
    )
    assert f'href="{refused_link}"' in html
