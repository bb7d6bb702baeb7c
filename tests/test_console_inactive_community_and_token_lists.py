"""What the console says, in pt-BR, when the partner cannot get a token at all, read through Django's test
client: a deactivated community's secret rotation warns before and after (the new secret gets
invalid_client until the community is reactivated); the community page says at its top why no token can
be obtained and what to do; a valid secret of a deactivated community is not just "atual"; and "revogar
todos os tokens" lists the tokens it revokes, as the token list's own confirmation does."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import TEST_ACTOR, make_community, request_token
from tests.test_admin import as_partner, form_key, result_rows, shown_secret, url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_keys_and_lockout_causes import _keys_only_with_its_key_retired, _text
from tests.test_console_safety import login
from tokens.services import community_deactivate, revocation_request_open

pytestmark = pytest.mark.django_db

INACTIVE_SECRET = "atual, mas não utilizável: a comunidade está desativada"


def _note(page: str, note_id: str) -> str:
    return page.split(f'id="{note_id}">', 1)[1].split("</p>", 1)[0]


# --- 1. rotating the secret of a deactivated community ------------------------------------------------


def test_rotating_a_deactivated_communitys_secret_says_before_and_after_it_gets_invalid_client(
    api, client, acme
):
    community = acme.community
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    reactivate = url("communities_community_reactivate", community.pk)
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", community.pk)

    before = _note(client.get(rotate).content.decode(), "community-inactive")
    assert "A comunidade está desativada" in _text(before) and "401 (acesso recusado)" in before
    assert "até que ela seja reativada" in _text(before) and reactivate in before

    done = client.post(rotate, {"grace": "0s", "reason": "handover", "form_key": form_key(client, rotate)})
    shown = client.get(done["Location"])
    secret = shown_secret(shown)
    after = _note(shown.content.decode(), "secret-inactive")
    assert "A comunidade está desativada" in _text(after) and "401 (acesso recusado)" in after
    assert reactivate in after

    refused = request_token(api, as_partner(community, secret))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_rotating_an_active_communitys_secret_says_nothing_of_deactivation(client, acme):
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    assert 'id="community-inactive"' not in client.get(rotate).content.decode()
    done = client.post(rotate, {"grace": "0s", "reason": "planned", "form_key": form_key(client, rotate)})
    assert 'id="secret-inactive"' not in client.get(done["Location"]).content.decode()


# --- 2. the community page says at its top when no token can be obtained ------------------------------


def _banner(page: str) -> str:
    assert page.index('id="no-token"') < page.index('id="client-auth-policy"')  # at the top
    return _note(page, "no-token")


def test_a_deactivated_communitys_page_says_at_the_top_no_token_can_be_obtained_and_how_to_fix(client, acme):
    community = acme.community
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    banner = _banner(page)
    assert "O parceiro não consegue obter nenhum token: a comunidade está desativada" in _text(banner)
    assert "até que a comunidade seja reativada" in _text(banner)
    assert url("communities_community_reactivate", community.pk) in banner
    secrets = _text(page.split('id="secrets"', 1)[1].split("</table>", 1)[0])
    assert INACTIVE_SECRET in secrets and " atual " not in secrets.replace(INACTIVE_SECRET, "")


def test_a_keys_only_community_without_an_active_key_says_so_at_the_top(client, acme):
    _keys_only_with_its_key_retired(acme)
    login(client, "sue", "security")
    said = _text(_banner(client.get(url("communities_community_change", acme.community.pk)).content.decode()))
    assert "a política não aceita o segredo do parceiro e a comunidade não tem chave ativa" in said
    assert "até que uma chave seja registrada" in said and "desativada" not in said


def test_a_secrets_only_community_with_its_secrets_suspended_says_so_at_the_top(client, acme):
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    said = _text(_banner(client.get(url("communities_community_change", acme.community.pk)).content.decode()))
    assert "todos os segredos estão suspensos por um pedido de revogação pendente" in said
    assert "A política não aceita chaves (private_key_jwt)" in said  # a side remark: the fix is the request


def test_a_community_that_can_get_tokens_has_no_banner(client, acme):
    login(client, "sue", "security")
    assert (
        'id="no-token"'
        not in client.get(url("communities_community_change", acme.community.pk)).content.decode()
    )


def test_the_communities_list_says_a_deactivated_communitys_secret_is_not_usable_in_two_queries_less(
    client, acme, globex
):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    listing = url("communities_community_changelist")
    client.get(listing)
    with CaptureQueriesContext(connection) as two:
        page = result_rows(client.get(listing))
    acme_row = _text(page.split(">acme<", 1)[1].split("</tr>", 1)[0])
    globex_row = _text(page.split(">globex<", 1)[1].split("</tr>", 1)[0])
    assert INACTIVE_SECRET in acme_row and "não utilizável" not in globex_row and " atual " in globex_row

    for client_id in ("initech", "umbrella", "hooli"):
        created = make_community(client_id)
        community_deactivate(community=created.community, actor=TEST_ACTOR, reason="x")
    with CaptureQueriesContext(connection) as five:
        page = result_rows(client.get(listing))
    assert _text(page).count(INACTIVE_SECRET) == 4 and len(five) == len(two)


# --- 3. "revogar todos os tokens" lists the tokens it revokes -----------------------------------------


def _listed(page: str) -> str:
    return page.split('id="confirm-list"', 1)[1].split("</table>", 1)[0]


def test_revoke_all_lists_each_live_token_with_its_state_and_expiry(client, acme):
    for jti in ("live-one", "live-two"):
        _token(acme.community, jti=jti)
    login(client, "sue", "security")
    page = client.get(url("communities_community_revoke_tokens", acme.community.pk)).content.decode()
    listed = _listed(page)
    assert "live-one" in listed and "live-two" in listed
    heads = _text(listed.split("</thead>", 1)[0])
    assert "ID do token (jti)" in heads and "situação" in heads and "expira em" in heads
    assert _text(listed).count(" ativo ") == 2
    assert "e mais" not in _text(page)


def test_revoke_all_lists_at_most_fifty_tokens_and_counts_the_rest(client, acme):
    for number in range(53):
        _token(acme.community, jti=f"t{number:02}")
    login(client, "sue", "security")
    page = client.get(url("communities_community_revoke_tokens", acme.community.pk)).content.decode()
    assert _listed(page).count("<tr>") == 51  # the headings, then fifty tokens
    assert "e mais 3 tokens" in _text(page)


def test_deactivating_lists_the_live_tokens_it_revokes_and_no_list_without_any(client, acme, globex):
    _token(acme.community, jti="live-one")
    login(client, "sue", "security")
    page = client.get(url("communities_community_deactivate", acme.community.pk)).content.decode()
    assert "live-one" in _listed(page)
    empty = client.get(url("communities_community_deactivate", globex.community.pk)).content.decode()
    assert 'id="confirm-list"' not in empty


def test_a_policy_change_in_a_deactivated_community_asks_no_lockout_box_when_a_method_works(client, acme):
    """Deactivation is a cause of no token, not the policy's doing: the lock-out box stays for the policy."""
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["client_secret"], "dpop": "optional", "allowed_ips": "", "reason": "dpop on"}
    assert client.post(page, posted).status_code == 302
