"""A fresh-eyes review of the console (pt-BR), through Django's test client: a duration under a minute
reads in seconds, never "0 minuto"; the token list's state filters agree with the state column about
tokens an allowlist applied to API calls refuses from the address they were issued to."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from console.humane import duration
from tests.conftest import TEST_ACTOR
from tests.test_admin import url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_refusal_counts_and_allowlisted_tokens import _allowlist, _issued_from, _text
from tests.test_console_safety import login
from tokens.services import community_rotate_secret

# --- 1. durations under a minute ----------------------------------------------------------------------


def test_a_duration_under_a_minute_reads_in_seconds_and_zero_reads_none():
    with translation.override("pt-br"):
        assert duration(20) == "20\xa0segundos"
        assert duration(1) == "1\xa0segundo"
        assert duration(59) == "59\xa0segundos"
        assert duration(0) == "nenhuma"  # a grace of 0: "janela de tolerância: nenhuma", as before


def test_a_duration_of_minutes_and_seconds_keeps_the_seconds():
    with translation.override("pt-br"):
        assert duration(90) == "1\xa0minuto, 30\xa0segundos"
        assert duration(60) == "1\xa0minuto"
        assert duration(3600 + 30) == "1\xa0hora"  # two units at most, as timesince says the rest
        assert duration(86400 + 7200) == "1\xa0dia, 2\xa0horas"


@pytest.mark.django_db
def test_a_twenty_second_grace_reads_twenty_seconds_on_the_community_history(client, acme):
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(seconds=20))
    login(client, "sam", "support")
    html = client.get(url("communities_community_history", acme.community.pk)).content.decode()
    rows = _text(html.split('id="community-history">', 1)[1])  # the no-break space read as a space
    assert "janela de tolerância 20 segundos" in rows, rows
    assert "0 minuto" not in rows


# --- 2. the state filters and tokens refused from where they were issued --------------------------------


def _filtered(client, state: str) -> str:
    return client.get(f"{url('tokens_issuedtoken_changelist')}?state={state}").content.decode()


@pytest.mark.django_db
def test_a_token_issued_outside_the_allowlist_is_listed_as_active_not_refused(client, acme, globex):
    _issued_from(acme.community, "outside", "127.0.0.1")
    _issued_from(acme.community, "inside", "203.0.113.9")
    _issued_from(globex.community, "elsewhere", "127.0.0.1")  # no allowlist: active
    _allowlist(acme.community, applies_to_api=True)
    login(client, "sue", "security")
    refused, active = _filtered(client, "refused"), _filtered(client, "active")
    assert 'title="outside"' in active and 'title="outside"' not in refused
    assert 'title="inside"' in active and 'title="inside"' not in refused
    assert 'title="elsewhere"' in active and 'title="elsewhere"' not in refused
    assert "recusado (DPoP obrigatório ou comunidade desativada)" in refused


@pytest.mark.django_db
def test_an_allowlist_for_token_requests_only_leaves_the_token_under_active(client, acme):
    _issued_from(acme.community, "outside", "127.0.0.1")
    _allowlist(acme.community, applies_to_api=False)
    login(client, "sue", "security")
    assert 'title="outside"' in _filtered(client, "active")
    assert 'title="outside"' not in _filtered(client, "refused")


@pytest.mark.django_db
def test_the_refused_filter_costs_the_same_queries_however_many_tokens(client, acme, globex):
    _allowlist(acme.community, applies_to_api=True)
    _allowlist(globex.community, applies_to_api=True)
    _issued_from(acme.community, "a0", "127.0.0.1")
    login(client, "sue", "security")
    _filtered(client, "refused")  # sessions, permissions and the like read once before counting
    with CaptureQueriesContext(connection) as few:
        _filtered(client, "refused")
    for n in range(1, 12):
        _issued_from(acme.community, f"a{n}", "127.0.0.1")
        _issued_from(globex.community, f"g{n}", "203.0.113.4")
    _token(globex.community, jti="no-source")
    with CaptureQueriesContext(connection) as many:
        page = _filtered(client, "refused")
    assert len(many) == len(few)
    assert 'title="a0"' not in page and 'title="a11"' not in page  # issued outside the allowlist: active
