"""A fresh-eyes review of the pt-BR console, through Django's test client: completing a request names the
suspended secrets it ends for good, reactivating a DPoP community says proofs are needed, the no-token
banner names the action each cause needs, a moment with its zone and "how long ago" in one bracket, and
ending the old secret names it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import ClientSecret
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, issue_token
from tests.test_admin import no_token_banner, url
from tests.test_console_keys_and_lockout_causes import _keys_only_with_its_key_retired, _text
from tests.test_console_names_who_can_act import _member, _note
from tests.test_console_review_fixes import _open_in_console
from tests.test_console_review_followups import _messages, _with_key
from tests.test_console_safety import login
from tokens.services import community_deactivate, community_rotate_secret, revocation_request_open

pytestmark = pytest.mark.django_db


# --- 1. completing a request ends its suspended secrets for good -------------------------------------


def test_completing_names_the_suspended_secret_it_ends_for_good(client, acme):
    suspended = ClientSecret.objects.get(community=acme.community)
    revocation = _open_in_console(client, acme.community)
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    said = _text(page)
    assert "Concluí-lo não encerra mais nada" not in said
    note = _text(_note(page, "suspended-end-for-good"))
    assert suspended.hint in note and "encerra de vez" in note


def test_completing_after_a_new_secret_still_names_the_suspended_one(client, acme):
    suspended = ClientSecret.objects.get(community=acme.community)
    revocation = _open_in_console(client, acme.community)
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR)  # a new secret, working
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    note = _text(_note(page, "suspended-end-for-good"))
    assert suspended.hint in note and "encerra de vez" in note
    assert "não encerra mais nada" not in _text(page)


# --- 2. reactivating a community whose policy requires DPoP -------------------------------------------


def test_reactivating_a_dpop_community_says_each_request_needs_a_proof(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)
    login(client, "sue", "security")
    said = _text(client.get(url("communities_community_reactivate", acme.community.pk)).content.decode())
    assert "o parceiro poderá obter tokens com" in said
    assert "Cada pedido de token e cada chamada à API também precisam de uma prova DPoP" in said


def test_reactivating_without_dpop_says_nothing_of_proofs(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    said = _text(client.get(url("communities_community_reactivate", acme.community.pk)).content.decode())
    assert "prova DPoP" not in said


# --- 3. the banner names the action each cause needs ---------------------------------------------------


def _banner(client, community) -> str:
    return _text(no_token_banner(client, community))


def test_keys_only_without_a_key_names_registering_a_key(client, acme):
    _keys_only_with_its_key_retired(acme)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _banner(client, acme.community)
    assert "até que uma chave seja registrada" in said
    assert "Só o grupo de segurança pode registrar uma chave ou mudar a política da comunidade: Ana." in said


def test_every_secret_ended_names_creating_a_new_secret(client, acme):
    ClientSecret.objects.filter(community=acme.community).update(
        valid_until=timezone.now() - timedelta(seconds=1)
    )
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _banner(client, acme.community)
    assert "até que um novo segredo seja entregue" in said
    assert (
        "Só o grupo de segurança pode criar um novo segredo ou mudar a política da comunidade: Ana." in said
    )


def test_a_pending_request_with_no_key_names_completing_it_or_registering_a_key(client, acme):
    _with_key(acme).delete()  # both methods accepted, no key
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    _member("sec1", "Ana")
    login(client, "sam", "support")
    said = _banner(client, acme.community)
    assert "Só o grupo de segurança pode concluir o pedido de revogação ou registrar uma chave: Ana." in said


def test_security_is_not_told_that_only_security_can(client, acme):
    _keys_only_with_its_key_retired(acme)
    login(client, "sue", "security")
    assert "Só o grupo de segurança" not in _banner(client, acme.community)


# --- 4. one bracket for the zone and how long ago ------------------------------------------------------


def test_the_policy_confirmation_says_zone_and_how_long_ago_in_one_bracket(api, client, acme):
    _with_key(acme)
    issue_token(api, acme)  # with the secret: used now
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["private_key_jwt"], "dpop": "required", "allowed_ips": "", "reason": "keys now"}
    said = _text(client.post(page, posted).content.decode())
    assert "(horário de Brasília, agora há pouco)" in said
    assert ") (" not in said


# --- 5. ending the old secret names it ------------------------------------------------------------------


def test_ending_the_old_secret_names_it_by_hint(client, acme):
    old = ClientSecret.objects.get(community=acme.community)
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(hours=24))
    login(client, "sue", "security")
    done = client.post(url("communities_community_stop_previous_secret", acme.community.pk), {"reason": "ok"})
    assert done.status_code == 302
    said = _messages(done)
    assert f"O segredo antigo que começa com “{old.hint}” foi encerrado." in said
