"""The console's usage counts staff can trust: every refused client authentication, whatever the reason,
and the partner's API calls per day, counted in the cache's round trips (no database write per call)
and saved daily by purge_tokens / flush_usage."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.crypto import generate_secret
from clients.services import PolicyChange, client_auth_policy_set
from communities.models import UsageDay
from communities.services import usage_days_flush
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, request_token
from tests.test_admin import as_partner, url
from tests.test_console_safety import login
from tokens.services import revocation_request_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_api_rate(settings):
    """A small per-community limit: every call is added at once (big limits add in batches of 1%)."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "90/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def shown(client, community, element: str) -> int:
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    return int(re.search(rf'id="{element}">(\d+)<', page).group(1))


def test_every_refusal_reason_is_counted_in_the_day_usage(api, client, acme):
    well_formed_wrong = generate_secret()
    checksum_broken = acme.client_secret[:-1] + ("A" if acme.client_secret[-1] != "A" else "B")
    refusals = [
        as_partner(acme.community, "not-even-a-secret"),  # malformed: refused before the database
        as_partner(acme.community, checksum_broken),  # checksum
        as_partner(acme.community, well_formed_wrong),  # unknown secret
        as_partner(acme.community, well_formed_wrong),
    ]
    for created in refusals:
        assert request_token(api, created).status_code == 401
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(allowed_ips=["203.0.113.0/24"]), actor=TEST_ACTOR
    )
    assert request_token(api, acme).status_code == 401  # refused by the policy
    client_auth_policy_set(community=acme.community, change=PolicyChange(allowed_ips=[]), actor=TEST_ACTOR)
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    assert request_token(api, acme).status_code == 401  # suspended
    assert request_token(api, acme).status_code == 401

    login(client, "sam", "support")
    assert shown(client, acme.community, "usage-failed") == 7  # live counters, before any flush
    assert usage_days_flush() == 1
    assert UsageDay.objects.get(community=acme.community).auth_failures == 7
    assert usage_days_flush() == 1 and UsageDay.objects.get().auth_failures == 7  # idempotent
    assert shown(client, acme.community, "usage-failed") == 7


@pytest.mark.usefixtures("small_api_rate")
def test_api_calls_per_day_are_counted_without_a_database_write_and_saved_by_purge_tokens(api, client, acme):
    token = issue_token(api, acme)
    get_bflus(api, token)  # the first call may load what later ones reuse
    with CaptureQueriesContext(connection) as queries:
        for _call in range(4):
            assert get_bflus(api, token).status_code in (200, 404)
    writes = [
        q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert writes == []

    login(client, "sam", "support")
    assert shown(client, acme.community, "usage-api") == 5
    call_command("purge_tokens", "--json", stdout=StringIO())
    assert UsageDay.objects.get(community=acme.community).api_calls == 5
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert 'id="api-chart"' in page and 'data-calls="5"' in page


def test_calls_of_a_window_that_ended_before_its_batch_filled_still_reach_the_days_usage(
    api, client, acme, settings
):
    """The default limit (6,000/min) adds calls in batches of 60 per process: a partner making a few calls
    a minute must not read as "not calling us". A window's unbatched calls ride on the next call."""
    import zoneinfo
    from datetime import datetime, timedelta

    import time_machine

    from tokens.throttling import WindowCounterThrottle

    WindowCounterThrottle._pending.clear()
    # Noon in the console's time zone: both windows fall on the same console day whenever the suite runs
    # (a run a minute before midnight once put the carried calls on the next day).
    zone = zoneinfo.ZoneInfo(settings.CONSOLE_TIME_ZONE)
    noon = datetime.now(tz=zone).replace(hour=12, minute=0, second=5, microsecond=0)
    with time_machine.travel(noon, tick=False) as traveller:
        token = issue_token(api, acme)
        for _call in range(7):
            assert get_bflus(api, token).status_code in (200, 404)
        traveller.shift(timedelta(minutes=1))
        assert get_bflus(api, token).status_code in (200, 404)
        login(client, "sam", "support")
        assert shown(client, acme.community, "usage-api") == 8


def test_a_partner_making_a_few_calls_at_the_default_limit_shows_them_at_once(api, client, acme):
    """At the default limit (6,000/min: batches of 60 per process) three calls read 3 on the community
    page straight away, not 0 until the partner calls again in a later minute."""
    from tokens.throttling import WindowCounterThrottle

    WindowCounterThrottle._pending.clear()
    token = issue_token(api, acme)
    for _call in range(3):
        assert get_bflus(api, token).status_code in (200, 404)
    login(client, "sam", "support")
    assert shown(client, acme.community, "usage-api") == 3


def test_a_busy_partner_under_a_huge_limit_is_still_batched(api, client, acme, settings):
    """A limit of 10,000,000/min makes batches of 100,000: past ``QUIET_CALLS`` calls in a window a busy
    partner's calls wait for their batch (a cache round trip per batch, not per call)."""
    from tokens.throttling import WindowCounterThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api": "10000000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    WindowCounterThrottle._pending.clear()
    token = issue_token(api, acme)
    calls = WindowCounterThrottle.QUIET_CALLS + 20
    for _call in range(calls):
        assert get_bflus(api, token).status_code in (200, 404)
    login(client, "sam", "support")
    assert shown(client, acme.community, "usage-api") == WindowCounterThrottle.QUIET_CALLS
