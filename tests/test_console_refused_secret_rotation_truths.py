"""A fresh-eyes review of the console (pt-BR), through Django's test client: the pages around a secret's
rotation never say an old secret "still works" when the API refuses it (a keys-only policy, a deactivated
community); the revoke box counts the tokens it revokes before, not after; the pages that tell what the
partner can do with a new secret say when DPoP is required and which addresses the allowlist accepts."""

import pytest

from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR
from tests.test_admin import form_key, submit_once, url
from tests.test_console_dpop_and_request_truths import _keys_only_request_with_a_key_token, _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_policy_refused_tokens_and_reader_wording import (
    _require_dpop,
    _two_bearer_tokens_and_one_bound_then_dpop_required,
)
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.services import community_deactivate

pytestmark = pytest.mark.django_db
STILL_WORKS = "ainda funciona até"  # the red box's usual words, true only while secrets are accepted
STOPS_NOW = "deixa de funcionar agora"  # the tick box's usual words


def _rotate(client, created, grace: str = "24h", **more) -> str:
    """Rotates through the page (ticking the end of a secret in grace when asked), returns the one-time
    page's text."""
    page = url("communities_community_rotate_secret", created.community.pk)
    form = client.get(page).content.decode()
    data = {"grace": grace, "reason": "routine", **more}
    if 'name="ending_hint"' in form:
        data["ending_hint"] = form.split('name="ending_hint" value="', 1)[1].split('"', 1)[0]
        data["end_secret_in_grace"] = "on"
    _secret, once, _posted = submit_once(client, page, data)
    return once


def _keys_only(created) -> None:
    _with_key(created)
    change = PolicyChange(methods=["private_key_jwt"])
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)


def _deactivated(created) -> None:
    community_deactivate(community=created.community, actor=TEST_ACTOR, reason="contract ended")


def _rotate_page(client, created) -> str:
    page = client.get(url("communities_community_rotate_secret", created.community.pk))
    assert page.status_code == 200
    return page.content.decode()


def _part(page: str, marker: str, end: str = "</p>") -> str:
    return _text(page.split(marker, 1)[1].split(end, 1)[0])


def _tick_label(page: str) -> str:
    return _part(page, 'for="id_end_secret_in_grace">', "</label>").rstrip(":")


def _revoke_label(page: str) -> str:
    return _part(page, 'for="id_revoke_tokens">', "</label>").rstrip(":")


def _revoke_help(page: str) -> str:
    row = page.split('id="id_revoke_tokens"', 1)[1]
    return _part(row, '<div class="help">', "</div>")


# --- 1. the rotate page's red box and tick box, with a secret in grace the API refuses ----------------


def test_the_rotate_page_keeps_the_usual_words_while_secrets_are_accepted(client, acme):
    login(client, "sue", "security")
    _rotate(client, acme)
    page = _rotate_page(client, acme)
    assert STILL_WORKS in _part(page, 'id="form-danger"><p>')
    assert STOPS_NOW in _tick_label(page)


@pytest.mark.parametrize(
    "make_refused, danger_says, tick_says",
    [
        (
            _keys_only,
            [
                "está na janela de tolerância até",
                "mas não funciona agora: a política não aceita segredos",
                "Trocar agora o encerra de vez",
            ],
            ["Sim, encerrar de vez o segredo que começa com", "se a política voltar a aceitar segredos"],
        ),
        (
            _deactivated,
            ["mas não funciona agora: a comunidade está desativada"],
            ["se a comunidade for reativada"],
        ),
    ],
)
def test_the_rotate_page_does_not_say_a_refused_secret_in_grace_works(
    client, acme, make_refused, danger_says, tick_says
):
    login(client, "sue", "security")
    _rotate(client, acme)
    make_refused(acme)
    page = _rotate_page(client, acme)
    danger = _part(page, 'id="form-danger"><p>')
    assert STILL_WORKS not in danger
    for said in danger_says:
        assert said in danger
    tick = _tick_label(page)
    assert STOPS_NOW not in tick
    for said in tick_says:
        assert said in tick


# --- 2. the one-time page after that rotation ---------------------------------------------------------


def test_the_new_secret_page_keeps_the_usual_grace_words_while_secrets_are_accepted(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    data = {"grace": "24h", "reason": "routine", "form_key": form_key(client, page)}
    shown = client.get(client.post(page, data)["Location"]).content.decode()
    assert "o segredo antigo funciona até" in _part(shown, 'id="secret-note">')


@pytest.mark.parametrize(
    "make_refused, why",
    [
        (_keys_only, "mas não funciona agora: a política não aceita segredos"),
        # The paragraph just before says the community is deactivated: the note does not say it again.
        (_deactivated, "mas também não funciona agora."),
    ],
)
def test_the_new_secret_page_does_not_say_a_refused_old_secret_works(client, acme, make_refused, why):
    make_refused(acme)
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    data = {"grace": "24h", "reason": "routine", "form_key": form_key(client, page)}
    shown = client.get(client.post(page, data)["Location"]).content.decode()
    note = _part(shown, 'id="secret-note">')
    assert "o segredo antigo funciona até" not in note
    assert "O segredo antigo está na janela de tolerância até" in note
    assert why in note


# --- 3. "end the old secret now" while the API refuses it ---------------------------------------------


def _stop_page(client, created) -> str:
    page = client.get(url("communities_community_stop_previous_secret", created.community.pk))
    assert page.status_code == 200
    return _part(page.content.decode(), 'id="confirm-question">', "</div>")


def test_ending_the_old_secret_keeps_the_usual_words_while_secrets_are_accepted(client, acme):
    login(client, "sue", "security")
    _rotate(client, acme)
    said = _stop_page(client, acme)
    assert "funciona até" in said
    assert "A partir de agora, pedidos do parceiro com o segredo antigo falham" in said


@pytest.mark.parametrize(
    "make_refused, why, back",
    [
        (_keys_only, "a política não aceita segredos", "se a política voltar a aceitar segredos"),
        (_deactivated, "a comunidade está desativada", "se a comunidade for reativada"),
    ],
)
def test_ending_a_refused_old_secret_says_it_is_already_refused(client, acme, make_refused, why, back):
    login(client, "sue", "security")
    _rotate(client, acme)
    make_refused(acme)
    said = _stop_page(client, acme)
    assert "funciona até" not in said
    assert "A partir de agora" not in said
    assert "mas já é recusado; último uso" in said
    assert f"Pedidos com o segredo antigo já falham: {why}." in said
    assert f"não volte a funcionar {back}" in said


# --- 4. the revoke box counts before -----------------------------------------------------------------


def test_the_revoke_box_counts_the_live_tokens_and_those_already_refused(client, acme):
    _two_bearer_tokens_and_one_bound_then_dpop_required(acme.community)
    login(client, "sue", "security")
    label = _revoke_label(_rotate_page(client, acme))
    assert "Revogar também os 3 tokens ativos agora" in label
    assert "2 deles já recusados pela API: DPoP obrigatório" in label


def test_the_revoke_box_counts_one_working_token(client, acme):
    _token(acme.community, jti="bearer-one")
    login(client, "sue", "security")
    assert _revoke_label(_rotate_page(client, acme)) == "Revogar também o token ativo agora"


def test_the_revoke_box_is_not_offered_when_there_is_no_live_token(client, acme):
    login(client, "sue", "security")
    page = _rotate_page(client, acme)
    assert 'name="revoke_tokens"' not in page and "não há nenhum agora" not in page


def test_the_revoke_help_speaks_of_revoking_when_secrets_are_refused(client, acme):
    _keys_only(acme)
    _token(acme.community, jti="key-token")
    login(client, "sue", "security")
    help_text = _revoke_help(_rotate_page(client, acme))
    assert "revogado" in help_text or "revogá" in help_text or "Revog" in help_text
    assert "só importa se a política voltar a aceitar segredos" in help_text


# --- 5. DPoP required: said where the page tells what the new secret does -----------------------------


def test_the_rotate_page_says_dpop_is_required(client, acme):
    _require_dpop(acme.community)
    login(client, "sue", "security")
    line = _part(_rotate_page(client, acme), 'id="dpop-required">')
    assert "prova DPoP em cada pedido de token e em cada chamada à API" in line


def test_the_rotate_page_says_nothing_of_dpop_when_not_required(client, acme):
    login(client, "sue", "security")
    assert 'id="dpop-required"' not in _rotate_page(client, acme)


def test_the_new_secret_page_says_each_api_call_needs_a_dpop_proof(client, acme):
    _require_dpop(acme.community)
    login(client, "sue", "security")
    line = _part(_rotated_page(client, acme), 'id="secret-dpop">')
    assert "com este segredo, mas sem prova DPoP, recebe 401" in line
    assert "prova DPoP em cada pedido de token e em cada chamada à API" in line


# --- 6. the allowlist, on the one-time page --------------------------------------------------------------


def _allow(created, *, api: bool) -> None:
    change = PolicyChange(allowed_ips=["192.0.2.0/24", "198.51.100.7"], allowlist_applies_to_api=api)
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)


def _rotated_page(client, created) -> str:
    page = url("communities_community_rotate_secret", created.community.pk)
    data = {"grace": "0s", "reason": "routine", "form_key": form_key(client, page)}
    return client.get(client.post(page, data)["Location"]).content.decode()


def test_the_new_secret_page_names_the_allowed_addresses(client, acme):
    _allow(acme, api=True)
    login(client, "sue", "security")
    line = _part(_rotated_page(client, acme), 'id="secret-allowlist">')
    assert "só são aceitos de 192.0.2.0/24, 198.51.100.7" in line
    assert "recebem 401" in line
    assert "As chamadas à API também só são aceitas desses endereços" in line


def test_the_new_secret_page_says_api_calls_are_not_restricted(client, acme):
    _allow(acme, api=False)
    login(client, "sue", "security")
    line = _part(_rotated_page(client, acme), 'id="secret-allowlist">')
    assert "só são aceitos de 192.0.2.0/24, 198.51.100.7" in line
    assert "As chamadas à API não têm essa restrição" in line


def test_the_new_secret_page_says_nothing_of_an_allowlist_when_there_is_none(client, acme):
    login(client, "sue", "security")
    assert 'id="secret-allowlist"' not in _rotated_page(client, acme)


def test_completing_a_request_shows_the_allowed_addresses_with_the_new_secret(client, acme):
    _key, revocation = _keys_only_request_with_a_key_token(acme)
    _allow(acme, api=False)
    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", revocation.pk)
    done = client.post(handle, {"reason": "confirmed", "form_key": form_key(client, handle)})
    line = _part(client.get(done["Location"]).content.decode(), 'id="secret-allowlist">')
    assert "só são aceitos de 192.0.2.0/24, 198.51.100.7" in line
