"""A fresh-eyes review of the console (pt-BR), through Django's test client: the history says which
refusals it cannot list (malformed secrets are only counted); a refusal with a known client_id reads as
that community's, in words that do not call its client_id unknown; an empty allowlist reads "qualquer
lugar" in the audit trail too; the policy's own history lists its changes; names said once."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from clients.crypto import generate_secret
from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from communities.models import Community
from tests.conftest import TEST_ACTOR
from tests.keyfactory import private_key, public_pem
from tests.test_admin import url
from tests.test_console_safety import login
from tests.test_console_triage_and_wording import _refused_with_a_wrong_secret

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _refused_as(api, client_id: str, secret: str) -> None:
    assert (
        api.post("/auth/token", {"client_id": client_id, "client_secret": secret}, format="json").status_code
        == 401
    )


# --- 1. what the refusal counter counts and the history cannot list ------------------------------------


def test_the_history_and_the_usage_say_malformed_secrets_are_only_counted(api, client, acme):
    _refused_as(api, "acme", "not-even-a-secret")  # counted, no audit row (by design)
    login(client, "sam", "support")
    history = _text(client.get(url("communities_community_history", acme.community.pk)).content.decode())
    assert "nem têm o formato de um segredo Bfluence são só contadas nos números de uso" in history
    assert "não registradas uma a uma" in history
    page = _text(client.get(url("communities_community_change", acme.community.pk)).content.decode())
    assert "Os segredos malformados (que nem têm o formato de um segredo Bfluence) são só contados" in page
    assert "o histórico lista as recusas da política e conta as demais" in page


# --- 2. a refusal with a known client_id is its community's -------------------------------------------


def test_a_refusal_with_a_known_client_id_shows_its_community_linked_on_the_list(api, client, acme):
    _refused_with_a_wrong_secret(api, acme)
    _refused_as(api, "nobody", acme.client_secret)
    known = AuditEvent.objects.get(event_type="client_auth_failed", client_id="acme")
    assert known.community is None  # as written at request time: unchanged
    login(client, "sue", "security")
    listed = client.get(url("audit_auditevent_changelist")).content.decode()
    community_url = url("communities_community_change", acme.community.pk)
    cells = re.findall(r'<td class="field-community_shown">(.*?)</td>', listed, re.S)
    assert cells.count(f'<a href="{community_url}" title="acme">acme</a>') >= 2  # the refusal, the opening
    assert "—" in cells  # the unknown client_id names no community
    assert "client_id desconhecido" in _text(listed)  # the unknown one's reason keeps its words
    assert _text(listed).count("client_id desconhecido") == 1


def test_the_list_finds_known_client_ids_in_one_query_whatever_the_rows(api, client, acme):
    login(client, "sue", "security")

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("audit_auditevent_changelist")).status_code == 200
        return len(queries.captured_queries)

    _refused_with_a_wrong_secret(api, acme)
    one_refusal = queries_for_the_list()
    for _attempt in range(3):
        _refused_as(api, "acme", generate_secret())
    assert queries_for_the_list() == one_refusal


def test_a_refusal_with_a_known_client_id_reads_as_its_communitys_on_its_page(api, client, acme):
    _refused_with_a_wrong_secret(api, acme)
    _refused_as(api, "nobody", acme.client_secret)
    login(client, "sue", "security")
    known = AuditEvent.objects.get(event_type="client_auth_failed", client_id="acme")
    html = client.get(url("audit_auditevent_change", known.pk)).content.decode()
    assert f'href="{url("communities_community_change", acme.community.pk)}"' in html
    page = _text(html)
    assert "Comunidade: —" not in page and "Comunidade: acme" in page
    assert "segredo errado ou antigo demais" in page and "client_id desconhecido" not in page

    unknown = AuditEvent.objects.get(event_type="client_auth_failed", client_id="nobody")
    page = _text(client.get(url("audit_auditevent_change", unknown.pk)).content.decode())
    assert "Comunidade: —" in page and "ou client_id desconhecido" in page

    # The history counts it apart, as its community's: never as an unknown client_id's.
    history = _text(client.get(url("communities_community_history", acme.community.pk)).content.decode())
    assert "Autenticação recusada de chamador sem credencial válida (client_id: acme)" in history
    assert "client_id desconhecido" not in history


# --- 3. an empty allowlist in the audit trail ------------------------------------------------------------


def test_an_empty_allowlist_reads_qualquer_lugar_in_the_audit_trail(client, acme):
    change = PolicyChange(methods=["client_secret", "private_key_jwt"])
    client_auth_policy_set(community=acme.community, change=change, actor=TEST_ACTOR)
    login(client, "sam", "support")
    event = AuditEvent.objects.get(event_type="client_auth_policy_set")
    page = _text(client.get(url("audit_auditevent_change", event.pk)).content.decode())
    assert "IPs de origem permitidos: qualquer lugar" in page and "IPs de origem permitidos: —" not in page
    history = _text(client.get(url("communities_community_history", acme.community.pk)).content.decode())
    assert "IPs de origem permitidos: qualquer lugar" in history
    assert "IPs de origem permitidos: —" not in history


# --- 4. the policy's history, and names said once ---------------------------------------------------------


def test_the_policy_history_lists_its_changes_made_in_the_console(client, acme, globex):
    Community.objects.filter(pk=acme.community.pk).update(name="Comunidade DPoP")
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)
    client_auth_policy_set(community=globex.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    login(client, "sam", "support")
    base = f"/admin/clients/clientauthpolicy/{acme.community.pk}"
    html = client.get(f"{base}/history/").content.decode()
    page = _text(html)
    assert "Não há alterações" not in page
    assert "Alterações da política de Comunidade DPoP (acme)" in page
    rows = html.split('id="community-history">', 1)[1]
    assert rows.count("history-client_auth_policy_set") == 1  # acme's change, not globex's
    assert "history-community_created" not in rows
    assert f'href="{url("communities_community_history", acme.community.pk)}"' in html
    change_page = _text(client.get(f"{base}/change/").content.decode())
    assert "Política de Comunidade DPoP (acme)" in change_page
    assert "Política da comunidade" not in change_page and "Política da comunidade" not in page


def test_a_key_of_another_community_names_it_once(client, acme, globex):
    Community.objects.filter(pk=acme.community.pk).update(name="Comunidade Chaves")
    key = private_key("ES256", fresh=True)
    client_key_add(community=acme.community, key_text=public_pem(key), actor=TEST_ACTOR)
    login(client, "sue", "security")
    pasted = client.post(
        url("clients_clientkey_add"), {"community": globex.community.pk, "public_key": public_pem(key)}
    )
    said = _text(pasted.content.decode())
    assert "Esta chave já está registrada para Comunidade Chaves (acme)." in said
    assert "a comunidade Comunidade" not in said
