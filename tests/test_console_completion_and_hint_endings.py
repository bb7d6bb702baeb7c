"""The revocation request's completion page counts the secrets the request suspended ("o suspendeu" for
one, "os suspendeu" for more); a secret's start ending in "…" is never followed by a full stop."""

import re
from datetime import timedelta

import pytest

from clients.services import secret_rotate
from tests.conftest import TEST_ACTOR
from tests.test_admin import url
from tests.test_console_safety import login
from tokens.services import revocation_request_open

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _completion_page(client, community) -> str:
    revocation = revocation_request_open(community=community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    response = client.get(url("tokens_revocationrequest_handle", revocation.pk))
    assert response.status_code == 200
    return _text(response.content.decode())


def test_one_suspended_secret_reads_o_suspendeu(client, acme):
    page = _completion_page(client, acme.community)
    assert "Nenhum segredo funciona agora: o pedido o suspendeu quando foi aberto" in page
    assert "os suspendeu" not in page


def test_two_suspended_secrets_read_os_suspendeu(client, acme):
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=1))
    page = _completion_page(client, acme.community)
    assert "Nenhum segredo funciona agora: o pedido os suspendeu quando foi aberto" in page


# --- a secret's start ("bfl_sk_aqj4…") is quoted, so a sentence never ends "…." ------------------------


def test_the_reactivate_page_quotes_the_secret_start_before_the_full_stop(client, acme):
    from clients.models import ClientSecret
    from tokens.services import community_deactivate

    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    hint = ClientSecret.objects.get(community=acme.community).hint
    assert hint.endswith("…")
    login(client, "sue", "security")
    response = client.get(url("communities_community_reactivate", acme.community.pk))
    assert response.status_code == 200
    page = _text(response.content.decode())
    assert f"o parceiro poderá obter tokens com o segredo que começa com “{hint}”." in page
    assert "…." not in page


def test_ending_two_old_secrets_quotes_each_start_before_the_full_stop():
    from django.utils import translation

    from clients.models import ClientSecret
    from console.admin.communities import _old_secrets_ended

    ended = [ClientSecret(hint="bfl_sk_Z2LS…"), ClientSecret(hint="bfl_sk_5bvx…")]
    with translation.override("pt-br"):
        said = _old_secrets_ended(ended)
    assert said == "2 segredos antigos foram encerrados: os que começam com “bfl_sk_Z2LS…” e “bfl_sk_5bvx…”."
