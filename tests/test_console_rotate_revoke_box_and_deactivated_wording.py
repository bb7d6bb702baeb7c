"""A fresh-eyes review of the console (pt-BR), through Django's test client: a deactivated community's
rotate page says it is deactivated once, with no "reativada: Reativar"; and a rotate page offers the
"revoke every live token" box only when there is a live token to revoke (a POST without it still rotates,
and with it still revokes)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import ClientSecret
from tests.test_admin import form_key, url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_refused_secret_rotation_truths import _deactivated, _rotate
from tests.test_console_safety import login
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db
REVOKE_BOX = 'name="revoke_tokens"'


# --- 1. a deactivated community's rotate page ---------------------------------------------------------


def _rotate_page(client, created) -> str:
    page = client.get(url("communities_community_rotate_secret", created.community.pk))
    assert page.status_code == 200
    return page.content.decode()


def _content(page: str) -> str:
    return _text(page.split('id="content"', 1)[1])


def test_a_deactivated_communitys_rotate_page_says_so_once_with_no_double_colon(client, acme):
    _deactivated(acme)
    login(client, "sue", "security")
    page = _rotate_page(client, acme)
    said = _content(page)
    assert said.count("desativada") == 1
    assert "reativada: Reativar" not in said
    assert "nem o novo segredo nem o antigo" in said
    assert "A janela de tolerância só importa se a comunidade for reativada" in said
    assert REVOKE_BOX not in page


def test_a_deactivated_communitys_rotate_page_with_a_secret_in_grace_says_so_once_outside_the_red_box(
    client, acme
):
    login(client, "sue", "security")
    _rotate(client, acme)
    _deactivated(acme)
    page = _rotate_page(client, acme)
    danger = page.split('id="form-danger">', 1)[1].split("</div>", 1)[0]
    said = _content(page.replace(danger, ""))
    assert "mas não funciona agora: a comunidade está desativada" in _text(danger)
    assert said.count("desativada") == 1
    assert "reativada: Reativar" not in said
    assert REVOKE_BOX not in page


def test_a_deactivated_communitys_rotation_posted_without_the_revoke_box_rotates(client, acme):
    _deactivated(acme)
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    done = client.post(page, {"grace": "0s", "reason": "handover", "form_key": form_key(client, page)})
    assert done.status_code == 302
    assert ClientSecret.objects.filter(community=acme.community).count() == 2


# --- 2. an active community's rotate page: the revoke box only when there is something to revoke -------


def test_the_rotate_page_offers_no_revoke_box_when_no_token_is_live(client, acme):
    ended = _token(acme.community, jti="expired")
    IssuedToken.objects.filter(pk=ended.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    login(client, "sue", "security")
    page = _rotate_page(client, acme)
    assert REVOKE_BOX not in page
    assert "não há nenhum agora" not in page

    rotate = url("communities_community_rotate_secret", acme.community.pk)
    posted = {"grace": "24h", "reason": "routine", "form_key": form_key(client, rotate)}
    assert client.post(rotate, posted).status_code == 302
    assert ClientSecret.objects.filter(community=acme.community).count() == 2
    assert IssuedToken.objects.get(pk="expired").revoked_at is None


def test_the_rotate_page_keeps_the_revoke_box_and_its_effect_when_a_token_is_live(client, acme):
    _token(acme.community, jti="live")
    login(client, "sue", "security")
    assert REVOKE_BOX in _rotate_page(client, acme)
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    posted = {"grace": "0s", "revoke_tokens": "on", "reason": "leak", "form_key": form_key(client, rotate)}
    assert client.post(rotate, posted).status_code == 302
    assert IssuedToken.objects.get(pk="live").revoked_at is not None
