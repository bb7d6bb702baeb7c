"""What the console says, in pt-BR, read through Django's test client, when a pending revocation request or
a deactivation is why the partner gets no token: the community page's top banner points to the request
(completing it hands over a new secret), not to the policy; rotating a deactivated community's secret does
not say the old one still works; and the reactivate page names the secrets and keys that will work, and
warns when the newest secret was made while the community was deactivated."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import ClientSecret
from tests.conftest import TEST_ACTOR
from tests.test_admin import no_token_banner, url
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.services import (
    community_deactivate,
    community_retire_key,
    community_rotate_secret,
    revocation_request_open,
)

pytestmark = pytest.mark.django_db


def _note(page: str, note_id: str) -> str:
    return page.split(f'id="{note_id}">', 1)[1].split("</p>", 1)[0]


# --- 1. a pending revocation request: the banner points to the request, not to the policy ------------


def test_suspended_secrets_banner_names_the_pending_request_and_links_to_it_not_to_the_policy(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    banner = _note(page, "no-token")
    said = _text(banner)
    assert "todos os segredos estão suspensos por um pedido de revogação pendente" in said
    assert "até que o pedido de revogação seja concluído" in said and "novo segredo" in said
    assert url("tokens_revocationrequest_change", revocation.pk) in banner
    assert url("clients_clientauthpolicy_set", acme.community.pk) not in banner
    # The policy's refusal of keys is said after the fix, as a side remark, not as a cause.
    assert said.index("A política não aceita chaves") > said.index("concluído")
    assert "O parceiro não consegue obter nenhum token: a política" not in said
    # One banner about the request, not two saying the same.
    assert 'id="secrets-suspended"' not in page


def test_suspended_secrets_banner_with_no_active_key_offers_the_request_or_a_key(client, acme):
    key = _with_key(acme)
    community_retire_key(community=acme.community, kid=key.kid, actor=TEST_ACTOR, reason="rotated out")
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    banner = no_token_banner(client, acme.community)
    said = _text(banner)
    assert "todos os segredos estão suspensos por um pedido de revogação pendente" in said
    assert "a comunidade não tem chave ativa" in said
    assert "até que o pedido de revogação seja concluído ou uma chave seja registrada" in said
    assert url("tokens_revocationrequest_change", revocation.pk) in banner
    assert f"community__id__exact={acme.community.pk}" in banner
    assert "não aceita chaves" not in said


def test_suspended_secrets_with_a_working_key_keep_the_suspended_secrets_banner_only(client, acme):
    _with_key(acme)
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert 'id="no-token"' not in page
    assert "Todos os segredos estão suspensos" in _text(_note(page, "secrets-suspended"))


# --- 2. rotating a deactivated community's secret: the old one does not work either ------------------


def test_rotating_a_deactivated_communitys_secret_does_not_say_the_old_one_still_works(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    page = client.get(url("communities_community_rotate_secret", acme.community.pk)).content.decode()
    warning = _text(_note(page, "form-warning"))
    assert "precisa dele antes que o antigo pare" not in warning
    assert "desativada" not in warning  # said once, in the note beside it
    assert "nem o novo segredo nem o antigo obtêm token" in _text(_note(page, "community-inactive"))


def test_rotating_an_active_communitys_secret_still_says_the_partner_needs_it_first(client, acme):
    login(client, "sue", "security")
    page = client.get(url("communities_community_rotate_secret", acme.community.pk)).content.decode()
    assert "precisa dele antes que o antigo pare" in _text(_note(page, "form-warning"))


# --- 3. the reactivate page names what will work, and a secret the partner may not have --------------


def _consequence(client, community) -> str:
    page = client.get(url("communities_community_reactivate", community.pk)).content.decode()
    return _text(page.split('id="confirm-question">', 1)[1].split("</div>", 1)[0])


def test_reactivating_names_the_secret_that_will_work(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    hint = ClientSecret.objects.get(community=acme.community).hint
    login(client, "sue", "security")
    said = _consequence(client, acme.community)
    assert (
        f"Depois da reativação, o parceiro poderá obter tokens com o segredo que começa com “{hint}”." in said
    )
    assert "pode ainda não ter recebido" not in said


def test_reactivating_after_a_rotation_while_deactivated_warns_the_partner_may_lack_the_new_secret(
    client, acme
):
    community = acme.community
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    community_rotate_secret(community=community, actor=TEST_ACTOR, grace=timedelta(days=1), reason="x")
    new, old = ClientSecret.objects.filter(community=community).order_by("-created_at")
    key = _with_key(acme)
    login(client, "sue", "security")
    said = _consequence(client, community)
    assert (
        f"o segredo que começa com “{new.hint}”, o segredo que começa com “{old.hint}” (válido até " in said
    )
    assert f"e a chave {key.kid} (private_key_jwt)" in said
    assert f"O segredo que começa com {new.hint} foi criado com a comunidade desativada" in said
    assert "o parceiro pode ainda não tê-lo recebido" in said


def test_reactivating_a_community_whose_secrets_are_suspended_says_nothing_will_work(client, acme):
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    said = _consequence(client, acme.community)
    assert "Depois da reativação, o parceiro continuará sem conseguir obter tokens" in said


def test_the_reactivate_page_reads_what_will_work_in_a_fixed_number_of_queries(client, acme):
    community = acme.community
    _with_key(acme)
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    page = url("communities_community_reactivate", community.pk)
    client.get(page)
    with CaptureQueriesContext(connection) as one:
        client.get(page)
    community_rotate_secret(community=community, actor=TEST_ACTOR, grace=timedelta(days=1), reason="x")
    with CaptureQueriesContext(connection) as more:
        client.get(page)
    assert len(more) == len(one)
