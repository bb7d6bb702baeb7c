"""The revocation-request flow for a deactivated community, read in pt-BR through Django's test client: its
keys get the partner no token (the community itself is refused, invalid_client), so no page or message
says they "still work"; and the request form's closing line promises access back only when completing
the request gives it back (not when the policy refuses secrets, the community is deactivated, or keys
never lost it)."""

import pytest

from clients.services import (
    PolicyChange,
    client_auth_policy_set,
    client_key_add,
    communities_keys_outlast_secrets,
    keys_outlasting_secrets,
)
from tests.conftest import TEST_ACTOR
from tests.keyfactory import private_key, public_pem
from tests.test_admin import url
from tests.test_console_keys_and_lockout_causes import _keys_only_with_its_key_retired, _text
from tests.test_console_refusals_name_who_else_can import _member, _messages, _open_in_console
from tests.test_console_request_flow_when_a_new_secret_is_not_enough import (
    MUST_REACTIVATE,
    _deactivated,
    _warning,
)
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.services import revocation_request_open

pytestmark = pytest.mark.django_db

# Every way the console says that keys keep the partner getting tokens.
KEYS_STILL_WORK = ("continua funcionando", "continuam funcionando", "ainda consegue obter tokens")
ACCESS_BACK = "só a conclusão do pedido devolve o acesso ao parceiro"


def _with_its_own_key(created) -> None:
    """Like ``_with_key``, with a key of its own (a key identifies one partner)."""
    change = PolicyChange(methods=["client_secret", "private_key_jwt"])
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)
    key_text = public_pem(private_key("ES256", fresh=True))
    client_key_add(community=created.community, key_text=key_text, actor=TEST_ACTOR)


def _says_keys_still_work(said: str) -> bool:
    return any(words in said for words in KEYS_STILL_WORK)


# --- A. a deactivated community's keys get no token: nothing says they still work ---------------------


def test_no_key_of_a_deactivated_community_outlasts_its_secrets(acme, globex):
    _with_key(acme)
    _with_its_own_key(globex)
    _deactivated(acme)
    assert keys_outlasting_secrets(community=acme.community) == 0
    assert keys_outlasting_secrets(community=globex.community) == 1
    assert [community.client_id for community, _count in communities_keys_outlast_secrets()] == ["globex"]


def test_the_form_does_not_say_the_keys_of_a_deactivated_community_still_work(client, acme):
    _with_key(acme)
    _deactivated(acme)
    login(client, "sam", "support")
    said = _warning(client, acme.community)
    assert not _says_keys_still_work(said)
    assert MUST_REACTIVATE in said


def test_the_forms_first_view_does_not_list_a_deactivated_community_among_those_whose_keys_work(
    client, acme, globex
):
    _with_key(acme)
    _with_its_own_key(globex)
    _deactivated(acme)
    login(client, "sam", "support")
    said = _warning(client)
    assert "Se você escolher globex" in said
    assert "acme (1 chave ativa)" not in said and "Se você escolher acme" not in said
    # It is named only among the communities where a new secret is not enough.
    assert "acme (desativada)" in said


def test_the_opened_message_does_not_say_the_keys_of_a_deactivated_community_still_work(client, acme):
    _with_key(acme)
    _deactivated(acme)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    assert not _says_keys_still_work(said)
    assert (
        "Um novo segredo só é entregue quando um membro do grupo de segurança (Ana) concluir o pedido" in said
    )
    assert MUST_REACTIVATE in said


def test_the_request_page_does_not_say_a_deactivated_partner_still_gets_tokens_with_its_key(client, acme):
    _with_key(acme)
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    _deactivated(acme)
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk))
    assert page.status_code == 200
    assert not _says_keys_still_work(_text(page.content.decode()))


def test_the_community_page_does_not_say_the_keys_of_a_deactivated_community_still_work(client, acme):
    _with_key(acme)
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    _deactivated(acme)
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk))
    assert page.status_code == 200
    said = _text(page.content.decode())
    assert not _says_keys_still_work(said)
    assert MUST_REACTIVATE in said


# --- B. the form's closing line promises access back only when completing gives it back -----------------


def _closing_line(said: str) -> str:
    return said.rsplit("Use quando", 1)[1]


def test_the_forms_closing_line_promises_access_back_in_the_normal_case(client, acme):
    login(client, "sam", "support")
    assert ACCESS_BACK in _closing_line(_warning(client, acme.community))


def test_the_forms_closing_line_does_not_promise_access_back_under_a_keys_only_policy(client, acme):
    _keys_only_with_its_key_retired(acme)
    login(client, "sam", "support")
    closing = _closing_line(_warning(client, acme.community))
    assert "devolve o acesso" not in closing
    assert "Não dá para desfazer" in closing


def test_the_forms_closing_line_does_not_promise_access_back_for_a_deactivated_community(client, acme):
    _deactivated(acme)
    login(client, "sam", "support")
    closing = _closing_line(_warning(client, acme.community))
    assert "devolve o acesso" not in closing
    assert "Não dá para desfazer" in closing


def test_the_forms_closing_line_does_not_promise_access_back_for_a_deactivated_community_with_a_key(
    client, acme
):
    _with_key(acme)
    _deactivated(acme)
    login(client, "sam", "support")
    closing = _closing_line(_warning(client, acme.community))
    assert "devolve o acesso" not in closing


def test_the_forms_closing_line_does_not_promise_access_back_when_keys_keep_working(client, acme):
    _with_key(acme)
    login(client, "sam", "support")
    closing = _closing_line(_warning(client, acme.community))
    assert "devolve o acesso" not in closing
    assert "entrega um novo segredo" in closing
