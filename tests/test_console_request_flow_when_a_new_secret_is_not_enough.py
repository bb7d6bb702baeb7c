"""The revocation-request flow, read in pt-BR through Django's test client, as a fresh-eyes review (support
agent and security officer) found it: where the form, the "opened" message and the community page's
banner promise access back once the request is completed, they say what else is needed when the policy
refuses secrets or the community is deactivated (the new secret still gets a 401 then); the opener
refused the completion page, and the "opened" message when keys keep working, name who completes the
request; and a support agent is not told "someone else" in a group it is not in."""

import re

import pytest

from audit.services import Actor
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, make_community
from tests.test_admin import form_key, no_token_banner, url
from tests.test_console_keys_and_lockout_causes import _keys_only_with_its_key_retired, _text, _with_key
from tests.test_console_names_who_can_act import _note
from tests.test_console_refusals_name_who_else_can import _member, _messages, _open_in_console
from tests.test_console_safety import login
from tokens.models import RevocationRequest
from tokens.services import community_deactivate, revocation_request_open

pytestmark = pytest.mark.django_db

POLICY_MUST_ACCEPT = "até que a política volte a aceitar segredos de cliente"
WHO_CHANGES_POLICY = "um membro do grupo de segurança muda a política de autenticação de cliente"
MUST_REACTIVATE = "a comunidade seja reativada"


def _warning(client, community=None) -> str:
    page = url("tokens_revocationrequest_add")
    if community is not None:
        page = f"{page}?community={community.pk}"
    html = client.get(page).content.decode()
    return _text(html.split('id="form-warning">', 1)[1].split("</div>", 1)[0])


def _keys_only(created) -> None:
    """Keys only, with an active key: the partner keeps getting tokens, never with a secret."""
    _with_key(created)
    change = PolicyChange(methods=["private_key_jwt"])
    client_auth_policy_set(community=created.community, change=change, actor=TEST_ACTOR)


def _deactivated(created) -> None:
    community_deactivate(community=created.community, actor=TEST_ACTOR, reason="contract ended")


# --- 1. a new secret is not enough: keys-only policy, deactivated community --------------------------


def test_the_form_says_the_policy_must_accept_secrets_again_for_a_keys_only_community(client, acme):
    _keys_only_with_its_key_retired(acme)
    login(client, "sam", "support")
    said = _warning(client, acme.community)
    assert POLICY_MUST_ACCEPT in said and WHO_CHANGES_POLICY in said
    assert MUST_REACTIVATE not in said
    # Completing alone gives no access back: the form does not say "cut off until it is completed".
    assert "fica sem acesso até que" not in said
    assert "Um novo segredo só é entregue quando alguém concluir o pedido" in said


def test_the_form_says_the_community_must_be_reactivated_when_deactivated(client, acme):
    _deactivated(acme)
    login(client, "sam", "support")
    said = _warning(client, acme.community)
    assert MUST_REACTIVATE in said
    assert POLICY_MUST_ACCEPT not in said
    assert "fica sem acesso até que" not in said


def test_the_form_says_nothing_more_for_an_active_community_that_accepts_secrets(client, acme):
    login(client, "sam", "support")
    said = _warning(client, acme.community)
    assert "até que alguém conclua o pedido e entregue um novo segredo" in said and "superusuário" in said
    assert POLICY_MUST_ACCEPT not in said and MUST_REACTIVATE not in said


def test_the_opened_message_says_the_policy_must_accept_secrets_again(client, acme):
    _keys_only_with_its_key_retired(acme)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    # Not "401 until someone completes the request": completing it alone gives no access back.
    assert "até que um membro do grupo de segurança (Ana) conclua o pedido" not in said
    assert (
        "Um novo segredo só é entregue quando um membro do grupo de segurança (Ana) concluir o pedido" in said
    )
    assert POLICY_MUST_ACCEPT in said and WHO_CHANGES_POLICY in said
    assert MUST_REACTIVATE not in said


def test_the_opened_message_says_both_for_a_deactivated_keys_only_community(client, acme):
    _keys_only_with_its_key_retired(acme)
    _deactivated(acme)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    assert POLICY_MUST_ACCEPT in said and MUST_REACTIVATE in said


def test_the_opened_message_says_the_community_must_be_reactivated(client, acme):
    _deactivated(acme)
    client.force_login(_member("sec1", "Ana"))
    _member("sec2", "Bruno")
    said = _messages(_open_in_console(client, acme.community))
    assert "até que outro membro do grupo de segurança (Bruno) conclua o pedido" not in said
    assert "Um novo segredo só é entregue quando outro membro do grupo de segurança (Bruno) concluir" in said
    assert MUST_REACTIVATE in said and POLICY_MUST_ACCEPT not in said


def test_the_opened_message_says_nothing_more_in_the_normal_case(client, acme):
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    assert "até que um membro do grupo de segurança (Ana) conclua o pedido e entregue um novo segredo" in said
    assert POLICY_MUST_ACCEPT not in said and MUST_REACTIVATE not in said


def _suspended_banner(client, community) -> str:
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    return _text(page.split('id="secrets-suspended">', 1)[1].split("</p>", 1)[0])


def test_the_community_banner_says_the_policy_must_accept_secrets_again(client, acme):
    _keys_only(acme)
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sam", "support")
    said = _suspended_banner(client, acme.community)
    assert "Um pedido de token feito com segredo recebe 401" in said
    # The key still gets the partner tokens: it is the new secret that gets the 401, not the partner.
    assert "o novo segredo que ele entrega recebe 401 (acesso recusado) até que a política" in said
    assert POLICY_MUST_ACCEPT in said and WHO_CHANGES_POLICY in said and MUST_REACTIVATE not in said
    # Not "until the request is completed" first: completing it alone gives the secret nothing back.
    assert "até o pedido ser concluído" not in said


def test_the_community_banner_says_the_community_must_be_reactivated(client, acme):
    _with_key(acme)
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    _deactivated(acme)
    login(client, "sam", "support")
    said = _suspended_banner(client, acme.community)
    assert MUST_REACTIVATE in said and POLICY_MUST_ACCEPT not in said
    assert "até o pedido ser concluído" not in said


def test_the_community_banner_says_nothing_more_in_the_normal_case(client, acme):
    _with_key(acme)
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sam", "support")
    said = _suspended_banner(client, acme.community)
    assert "recebe 401 até o pedido ser concluído." in said
    assert POLICY_MUST_ACCEPT not in said and MUST_REACTIVATE not in said


# --- 5. the opener refused the completion page, and the "opened" message with working keys, name whom ---


def test_the_opener_refused_the_completion_page_is_told_who_else_completes_it(client, acme):
    ana = _member("sec1", "Ana")
    _member("sec2", "Bruno")
    revocation = _opened(ana, acme)
    client.force_login(ana)
    refused = client.get(url("tokens_revocationrequest_handle", revocation.pk), follow=True)
    said = _messages(refused)
    assert "Você abriu este pedido" in said and "Bruno" in said and "Ana" not in said


def test_the_lone_opener_refused_the_completion_page_is_told_to_ask_a_superuser(client, acme):
    ana = _member("sec1", "Ana")
    revocation = _opened(ana, acme)
    client.force_login(ana)
    said = _messages(client.get(url("tokens_revocationrequest_handle", revocation.pk), follow=True))
    assert "Você abriu este pedido" in said and "superusuário" in said


def _opened(user, created) -> RevocationRequest:
    return revocation_request_open(community=created.community, reason="leak", actor=Actor.staff(user))


def test_the_opened_message_with_working_keys_names_who_completes_the_request(client, acme):
    _with_key(acme)
    _member("sec1", "Ana")
    _member("sec2", "Bruno")
    login(client, "sam", "support")
    said = _messages(_open_in_console(client, acme.community))
    assert "chave ativa da comunidade continua funcionando" in said
    assert "quando um membro do grupo de segurança (Ana e Bruno) concluir o pedido" in said


# --- 6. "someone else in the security group" only to a security member ---------------------------------


def test_the_form_tells_support_a_member_of_the_security_group_by_name(client, acme):
    _member("sec1", "Ana")
    _member("sec2", "Bruno")
    login(client, "sam", "support")
    said = _warning(client, acme.community)
    assert "até que um membro do grupo de segurança (Ana e Bruno) conclua o pedido" in said
    assert "outra pessoa" not in said and "outro membro" not in said


def test_the_form_tells_a_security_member_another_member_by_name(client, acme):
    client.force_login(_member("sec1", "Ana"))
    _member("sec2", "Bruno")
    said = _warning(client, acme.community)
    assert "até que outro membro do grupo de segurança (Bruno) conclua o pedido" in said
    assert "Ana" not in said


def test_the_forms_first_view_tells_support_a_member_of_the_security_group(client, acme):
    _with_key(acme)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _warning(client)
    assert "quando um membro do grupo de segurança (Ana) concluir o pedido" in said
    assert "outra pessoa" not in said


# --- 4. the form reached without ?community= names where a new secret is not enough ------------------


def test_the_forms_first_view_names_the_communities_where_a_new_secret_is_not_enough(client, acme, globex):
    _deactivated(acme)
    _keys_only_with_its_key_retired(globex)
    login(client, "sam", "support")
    said = _warning(client)
    assert "acme (desativada)" in said
    assert "globex (a política não aceita segredos)" in said
    # The generic "until" line speaks of the other communities only; no promise of access back in general.
    assert "Nas demais comunidades, o parceiro fica sem acesso até que" in said
    assert "só a conclusão do pedido devolve o acesso ao parceiro." not in said
    assert "e nas comunidades listadas acima nem isso" in said


def test_the_forms_first_view_with_keys_elsewhere_promises_tokens_back_only_for_the_others(
    client, acme, globex
):
    _deactivated(acme)
    _with_key(globex)
    login(client, "sam", "support")
    said = _warning(client)
    assert "acme (desativada)" in said
    assert "Nas demais comunidades, sem uma chave ativa aceita pela política" in said
    assert "Sem uma chave ativa aceita pela política" not in said


def test_the_forms_first_view_says_the_plain_line_when_a_new_secret_is_enough_everywhere(client, acme):
    login(client, "sam", "support")
    said = _warning(client)
    assert "O parceiro fica sem acesso até que" in said
    assert "desativada" not in said and "Nas demais comunidades" not in said


def test_the_form_re_shown_with_an_error_warns_for_the_community_sent(client, acme, globex):
    _deactivated(acme)
    _keys_only_with_its_key_retired(globex)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    response = client.post(
        page, {"community": acme.community.pk, "reason": "", "form_key": form_key(client, page)}
    )
    assert response.status_code == 200
    html = response.content.decode()
    said = _text(html.split('id="form-warning">', 1)[1].split("</div>", 1)[0])
    assert MUST_REACTIVATE in said
    assert "globex" not in said and "Nas demais comunidades" not in said
    assert not RevocationRequest.objects.filter(community=acme.community).exists()


def test_the_forms_first_view_names_the_first_three_and_counts_the_rest(client, acme):
    for client_id in ["d1", "d2", "d3", "d4", "d5"]:
        _deactivated(make_community(client_id))
    login(client, "sam", "support")
    said = _warning(client).replace(" ,", ",")  # _text spaces out the links
    assert "d1 (desativada), d2 (desativada), d3 (desativada) e mais 2" in said
    assert "d4" not in said and "Nestas comunidades, concluir o pedido não basta" in said


# --- 5. the completion page of a deactivated community warns before the button ----------------------


def test_the_completion_page_warns_a_deactivated_communitys_new_secret_gets_a_401(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    _deactivated(acme)
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    note = _text(_note(page, "community-deactivated"))
    assert "A comunidade está desativada" in note and "até que ela seja reativada" in note
    assert page.index('id="community-deactivated"') < page.index("Trocar o segredo, concluir o pedido")


def test_the_completion_page_of_an_active_community_says_nothing_of_deactivation(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    assert 'id="community-deactivated"' not in page and "está desativada" not in _text(page)


# --- 6. the community banner tells the opener who completes the request, not "Complete request #N" ----


def test_the_community_banner_tells_the_opener_who_else_completes_the_request(client, acme):
    ana = _member("sec1", "Ana")
    _member("sec2", "Bruno")
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=Actor.staff(ana))
    client.force_login(ana)
    banner = no_token_banner(client, acme.community)
    said = _text(banner)
    assert f"Concluir o pedido #{revocation.pk}" not in said  # it leads to the two-person rule's refusal
    assert "Você abriu este pedido" in said and "Bruno" in said
    assert f"Ver o pedido #{revocation.pk}" in said


def test_the_community_banner_still_offers_another_member_to_complete_the_request(client, acme):
    ana = _member("sec1", "Ana")
    bruno = _member("sec2", "Bruno")
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=Actor.staff(ana))
    client.force_login(bruno)
    said = _text(no_token_banner(client, acme.community))
    assert f"Concluir o pedido #{revocation.pk}" in said and "Você abriu este pedido" not in said


# --- 6. the dropdown itself marks where a new secret is not enough (nothing hidden under "e mais") -----


def _options(client) -> dict[str, str]:
    """The community dropdown of the form reached without ?community=: client_id → the option's text."""
    html = client.get(url("tokens_revocationrequest_add")).content.decode()
    select = html.split('name="community"', 1)[1].split("</select>", 1)[0]
    found = re.findall(r"<option value=\"\d+\"[^>]*>(.*?)</option>", select, flags=re.S)
    return {re.search(r"\((\w+)\)", text).group(1): " ".join(text.split()) for text in found}


def test_the_dropdown_marks_the_community_cut_from_the_red_box_list(client, acme, globex):
    for client_id in ["d1", "d2", "d3", "d4"]:
        _deactivated(make_community(client_id))
    _keys_only_with_its_key_retired(globex)
    login(client, "sam", "support")
    said = _warning(client).replace(" ,", ",")
    assert "d1 (desativada), d2 (desativada), d3 (desativada) e mais 2" in said
    assert "d4" not in said and "globex" not in said
    options = _options(client)
    # The one hidden under "e mais 2", chosen in the dropdown, says its state before saving.
    assert options["d4"] == "d4 community (d4) — desativada: um novo segredo não basta"
    assert (
        options["globex"]
        == "globex community (globex) — a política não aceita segredos: um novo segredo não basta"
    )
    # A community where completing the request gives access back is listed as before.
    assert options["acme"] == "acme community (acme)"


def test_the_red_box_says_the_dropdown_marks_every_community_where_completing_is_not_enough(client, acme):
    for client_id in ["d1", "d2", "d3", "d4"]:
        _deactivated(make_community(client_id))
    login(client, "sam", "support")
    said = _warning(client)
    assert "Todas estão marcadas na lista Comunidade abaixo" in said


def test_the_red_box_says_the_dropdown_marks_the_only_such_community(client, acme, globex):
    _deactivated(acme)
    login(client, "sam", "support")
    said = _warning(client)
    assert "Ela também está marcada na lista Comunidade abaixo" in said
    assert "globex" not in said and _options(client)["globex"] == "globex community (globex)"


def test_the_dropdown_marks_a_deactivated_community_when_another_one_was_chosen(client, acme, globex):
    _deactivated(globex)
    login(client, "sam", "support")
    html = client.get(f"{url('tokens_revocationrequest_add')}?community={acme.community.pk}").content.decode()
    assert "globex community (globex) — desativada: um novo segredo não basta" in html
