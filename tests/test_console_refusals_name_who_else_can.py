"""Refusals and notes name who else can act, never the person the two-person rule refuses: the refusal on
a request's completion page leaves out its opener, the opener's own success message says someone else
completes it, a refused self-reset names the other security members; the lift and reset pages sit under
"Contas da equipe"; a read-only staff account shows no editing help; Recent actions says what an
addition was."""

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages

from audit.services import Actor
from tests.test_admin import form_key, staff, submit_once, url
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_safety import login
from tokens.models import RevocationRequest
from tokens.services import revocation_request_open

pytestmark = pytest.mark.django_db


def _member(username: str, first_name: str, last_name: str = "") -> User:
    user = staff(username, "security")
    user.first_name, user.last_name = first_name, last_name
    user.save()
    return user


def _messages(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


def _open_in_console(client, community, reason: str = "phoned in") -> RevocationRequest:
    page = url("tokens_revocationrequest_add")
    posted = {"community": community.pk, "reason": reason, "form_key": form_key(client, page)}
    response = client.post(page, posted, follow=True)
    assert response.status_code == 200
    return response


# --- 1. the completion page's refusal and the opener's success message --------------------------------


def test_support_refused_on_the_completion_page_is_not_pointed_at_the_opener(client, acme):
    sergio = _member("sec2", "Sérgio", "Seguro")
    _member("sec1", "Sara", "Segura")
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=Actor.staff(sergio))
    login(client, "sam", "support")
    refused = client.get(url("tokens_revocationrequest_handle", revocation.pk))
    said = _text(refused.content.decode())
    assert refused.status_code == 403
    assert "Peça a alguém do grupo de segurança: Sara Segura." in said
    assert "Sérgio" not in said


def test_support_refused_on_the_lone_openers_request_is_told_to_ask_a_superuser(client, acme):
    sergio = _member("sec2", "Sérgio", "Seguro")
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=Actor.staff(sergio))
    login(client, "sam", "support")
    refused = client.get(url("tokens_revocationrequest_handle", revocation.pk))
    said = _text(refused.content.decode())
    assert refused.status_code == 403
    assert "Peça a alguém do grupo de segurança: Sérgio" not in said
    assert "superusuário" in said


def test_the_security_member_who_opens_a_request_is_told_who_else_completes_it(client, acme):
    client.force_login(_member("sec1", "Ana"))
    _member("sec2", "Bruno")
    said = _messages(_open_in_console(client, acme.community))
    assert "até que outro membro do grupo de segurança (Bruno) conclua o pedido" in said
    assert "Ana" not in said and "até que alguém do grupo de segurança conclua" not in said


def test_the_lone_security_member_who_opens_a_request_is_told_to_ask_a_superuser(client, acme):
    client.force_login(_member("sec1", "Ana"))
    said = _messages(_open_in_console(client, acme.community))
    assert "quem abre um pedido não pode concluí-lo" in said
    assert "superusuário" in said
    assert "até que alguém do grupo de segurança conclua" not in said


# --- 2. a refused self-reset or self lift names the other security members -----------------------------


@pytest.mark.parametrize(
    "action", ["console_staffaccount_reset_second_factor", "console_staffaccount_lift_lock"]
)
def test_a_refused_self_action_names_the_other_security_members(client, action):
    ana = _member("sec1", "Ana")
    _member("sec2", "Bruno")
    client.force_login(ana)
    said = _messages(client.get(url(action, ana.pk), follow=True))
    assert "peça a outro membro do grupo de segurança (Bruno)" in said
    assert "Ana" not in said


def test_a_refused_self_action_with_nobody_else_says_to_ask_a_superuser(client):
    ana = _member("sec1", "Ana")
    client.force_login(ana)
    said = _messages(client.get(url("console_staffaccount_reset_second_factor", ana.pk), follow=True))
    assert "Ninguém faz isso para si mesmo" in said and "superusuário" in said
    assert "peça a outro membro do grupo de segurança" not in said


# --- 3. the lift and reset pages sit under "Contas da equipe" -----------------------------------------


@pytest.mark.parametrize(
    "action", ["console_staffaccount_reset_second_factor", "console_staffaccount_lift_lock"]
)
def test_the_lift_and_reset_pages_have_the_staff_accounts_crumb(client, action):
    tom = _member("tom", "Tom")
    client.force_login(_member("sue", "Sue"))  # just signed in: no password prompt yet
    page = client.get(url(action, tom.pk))
    assert page.status_code == 200
    crumbs = page.content.decode().split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert f'<a href="{url("console_staffaccount_changelist")}">Contas da equipe</a>' in crumbs


# --- 4. the read-only staff account page shows no editing help -----------------------------------------


def test_the_read_only_staff_account_page_shows_no_editing_help(client):
    tom = _member("tom", "Tom")
    login(client, "sue", "security")
    page = client.get(url("console_staffaccount_change", tom.pk))
    text = page.content.decode()
    assert page.status_code == 200 and "tom" in text
    assert "150 caracteres ou menos" not in text and "Obrigatório." not in text


# --- 5. Recent actions says what an addition was ---------------------------------------------------------


def test_recent_actions_say_a_request_was_opened_and_why(client, acme):
    client.force_login(_member("sec1", "Ana"))
    _open_in_console(client, acme.community, reason="phoned in")
    recent = client.get("/admin/").content.decode().split('id="recent-actions-module"', 1)[1]
    recent = recent.split("</ul>", 1)[0]
    assert "Aberto: phoned in" in _text(recent)
    assert "Pedido #" in recent


def test_recent_actions_say_a_community_was_created_with_its_first_secret(client):
    client.force_login(_member("sec1", "Ana"))
    posted = {"client_id": "newco", "name": "New Co", "permissions": ["bflus:read"], "token_lifetime": "1h"}
    submit_once(client, url("communities_community_add"), posted)
    recent = client.get("/admin/").content.decode().split('id="recent-actions-module"', 1)[1]
    said = _text(recent.split("</ul>", 1)[0])
    assert "Criada com o primeiro segredo" in said and "New Co (newco)" in said
    assert "Adicionado" not in said
