"""A fresh-eyes review of the console (pt-BR), through Django's test client: an allowlist with several
wrong entries names every one of them at once, each with its own reason; the rotate page of a deactivated
community says "401 (acesso recusado)" as every other page does, and says it is deactivated once; dates
never sit in brackets inside brackets, and the time an action was done carries a label."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clients.models import ClientAuthPolicy, ClientSecret
from tests.conftest import TEST_ACTOR
from tests.test_admin import submit_once, url
from tests.test_console_allowlist_errors_revoke_filters_event_filter import _policy_form_error
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_pending_request_banner_and_reactivation import _consequence
from tests.test_console_refused_secret_rotation_truths import _deactivated, _rotate_page
from tests.test_console_safety import login
from tokens.services import community_rotate_secret

pytestmark = pytest.mark.django_db

SEVERAL_WRONG = "10.0.0.0/33, 192.168.1.1/24, abc, 2001:db8::/129, 10.1.1.1-10.1.1.5"
EACH_REASON = [
    ("10.0.0.0/33", "no máximo 32"),
    ("192.168.1.1/24", "Você quis dizer 192.168.1.0/24?"),
    ("abc", "não é um endereço IP nem uma faixa CIDR"),
    ("2001:db8::/129", "no máximo 128"),
    ("10.1.1.1-10.1.1.5", "não é um endereço IP nem uma faixa CIDR"),
]
NESTED_BRACKETS = re.compile(r"\([^()]*\(")


# --- 1. every wrong allowlist entry at once ---------------------------------------------------------


def test_the_policy_form_names_every_wrong_allowlist_entry_with_its_own_reason(client, acme):
    login(client, "sue", "security")
    errors = _policy_form_error(client, acme.community, SEVERAL_WRONG)
    items = [_text(item) for item in errors.split("<li>")[1:]]
    assert len(items) == len(EACH_REASON), items
    for item, (entry, reason) in zip(items, EACH_REASON, strict=True):
        assert entry in item and reason in item, item


def test_set_client_auth_names_every_wrong_allowlist_entry(acme):
    with pytest.raises(CommandError) as refused:
        call_command(
            "set_client_auth", "acme", "--allowed-ips", SEVERAL_WRONG, stdout=StringIO(), stderr=StringIO()
        )
    said = str(refused.value)
    for entry, reason in EACH_REASON:
        assert f"“{entry}”" in said and reason in said, said
    assert said.count("não é um endereço IP") == 2
    assert not ClientAuthPolicy.objects.exists()


# --- 2. the rotate page of a deactivated community ------------------------------------------------------


def test_the_rotate_page_of_a_deactivated_community_says_access_refused_and_deactivated_once(client, acme):
    login(client, "sue", "security")
    _deactivated(acme)
    page = _rotate_page(client, acme)
    said = _text(page)
    assert "invalid_client" not in said
    assert "todo pedido de token recebe 401 (acesso recusado)" in said
    assert said.count("A comunidade está desativada") == 1, said
    assert 'name="revoke_tokens"' not in page  # deactivating revoked every token: nothing to revoke
    assert "A janela de tolerância só importa se a comunidade for reativada" in said


# --- 3. dates without brackets in brackets, the time of an action labelled ------------------------------


def test_reactivating_names_the_old_secrets_end_without_nested_brackets(client, acme):
    community = acme.community
    _deactivated(acme)
    community_rotate_secret(community=community, actor=TEST_ACTOR, grace=timedelta(days=1), reason="x")
    _new, old = ClientSecret.objects.filter(community=community).order_by("-created_at")
    login(client, "sue", "security")
    said = _consequence(client, community)
    assert f"o segredo que começa com “{old.hint}” (válido até " in said
    assert ", horário de Brasília)" in said
    assert not NESTED_BRACKETS.search(said), said


def test_the_secret_already_shown_page_labels_when_it_was_done(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    _secret, secret_page, _posted = submit_once(client, page, {"grace": "0s", "reason": "routine"})
    gone = client.get(secret_page)
    assert gone.status_code == 410
    summary = _text(gone.content.decode().split('id="form-done-summary">', 1)[1].split("</p>", 1)[0])
    assert re.search(r"Feito em \d\d/\d\d/\d{4} \d\d:\d\d \(horário de Brasília\)\.$", summary), summary
    assert not re.search(r"\(\d\d/\d\d/\d{4} \d\d:\d\d\)", summary), summary
