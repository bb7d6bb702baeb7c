"""Support told to ask the security group is told whom, by name, and never pointed at someone who cannot
act: a pending request's page leaves out the member who opened it (the two-person rule refuses them);
the community page's banner does not link support to pages it may not open, it names who can; and the
console's refusal page names the active security members, or says to ask a superuser."""

import pytest

from audit.services import Actor
from tests.conftest import TEST_ACTOR
from tests.test_admin import no_token_banner, staff, url
from tests.test_console_keys_and_lockout_causes import _keys_only_with_its_key_retired, _text
from tests.test_console_safety import login
from tokens.services import community_deactivate, revocation_request_open

pytestmark = pytest.mark.django_db


def _note(page: str, note_id: str) -> str:
    return page.split(f'id="{note_id}">', 1)[1].split("</p>", 1)[0]


def _member(username: str, first_name: str):
    user = staff(username, "security")
    user.first_name = first_name
    user.save()
    return user


def _opened_by(user, community):
    return revocation_request_open(community=community, reason="leak", actor=Actor.staff(user))


# --- 1. who can complete a pending request: never the one who opened it ------------------------------


def test_support_is_pointed_at_the_security_members_who_did_not_open_the_request(client, acme):
    revocation = _opened_by(_member("sec1", "Ana"), acme.community)
    _member("sec2", "Bruno")
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    said = _text(_note(page, "only-security-completes"))
    assert "Só um membro do grupo de segurança pode concluir este pedido: Bruno." in said
    assert "Ana" not in said


def test_support_is_told_nobody_else_can_when_the_lone_security_member_opened_the_request(client, acme):
    revocation = _opened_by(_member("sec1", "Ana"), acme.community)
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    said = _text(_note(page, "only-security-completes"))
    assert "Ana, o único membro ativo do grupo de segurança, abriu este pedido" in said
    assert "peça a um administrador do console (superusuário)" in said
    assert "outro membro ao grupo de segurança" in said


def test_the_opener_is_told_which_other_security_members_can_complete_it(client, acme):
    ana = _member("sec1", "Ana")
    revocation = _opened_by(ana, acme.community)
    _member("sec2", "Bruno")
    client.force_login(ana)
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    said = _text(_note(page, "handle-blocked"))
    assert "Você abriu este pedido" in said and "Bruno" in said and "Ana" not in said
    assert 'id="handle-request"' not in page


def test_the_lone_opener_is_told_to_ask_a_superuser_or_add_a_member(client, acme):
    ana = _member("sec1", "Ana")
    revocation = _opened_by(ana, acme.community)
    client.force_login(ana)
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    said = _text(_note(page, "handle-blocked"))
    assert "Você abriu este pedido" in said
    assert "superusuário" in said and "outro membro ao grupo de segurança" in said


# --- 2. the community banner links support only where it may go; the refusal page names who can -------


def test_support_sees_who_can_reactivate_instead_of_a_link_to_reactivate(client, acme):
    community = acme.community
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    _member("sec1", "Ana")
    _member("sec2", "Bruno")
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    banner = _note(page, "no-token")
    assert url("communities_community_reactivate", community.pk) not in page
    assert "Só o grupo de segurança pode reativar a comunidade: Ana e Bruno." in _text(banner)


def test_security_still_gets_the_reactivate_link_in_the_banner(client, acme):
    community = acme.community
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    banner = no_token_banner(client, community)
    assert url("communities_community_reactivate", community.pk) in banner
    assert "Só o grupo de segurança" not in _text(banner)


def test_support_sees_who_can_change_the_policy_instead_of_a_link_to_it(client, acme):
    _keys_only_with_its_key_retired(acme)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    banner = _note(page, "no-token")
    assert url("clients_clientauthpolicy_set", acme.community.pk) not in banner
    # Keys-only with no key: registering one is the fix, or a policy that accepts the secret again.
    said = "Só o grupo de segurança pode registrar uma chave ou mudar a política da comunidade: Ana."
    assert said in _text(banner)


def test_support_is_told_to_ask_a_superuser_when_security_has_no_active_member(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sam", "support")
    said = _text(no_token_banner(client, acme.community))
    assert "Só o grupo de segurança pode reativar a comunidade" in said
    assert "peça a um administrador do console (superusuário)" in said


def test_the_refusal_page_names_the_security_members_who_can(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    _member("sec1", "Ana")
    _member("sec2", "Bruno")
    login(client, "sam", "support")
    refused = client.get(url("communities_community_reactivate", acme.community.pk))
    assert refused.status_code == 403
    said = _text(refused.content.decode())
    assert "Sem permissão" in said
    assert "Peça a alguém do grupo de segurança: Ana e Bruno." in said


def test_the_refusal_page_says_to_ask_a_superuser_when_security_has_no_active_member(client, acme):
    login(client, "sam", "support")
    refused = client.get(url("clients_clientauthpolicy_set", acme.community.pk))
    assert refused.status_code == 403
    said = _text(refused.content.decode())
    assert "peça a um administrador do console (superusuário)" in said
    assert "Peça a alguém do grupo de segurança." not in said
