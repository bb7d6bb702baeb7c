"""Rate limits on client authentication (SPEC §2.1): knowing a client_id gives no power over that partner.

Failures count per source IP and per client_id + source IP, every attempt per source IP, and per
client_id only what the partner itself consumes (authenticated requests). So nothing an outsider sends,
from any number of addresses, makes the partner's own correct request from its own address fail; and
"our credentials are compromised" always gets through with a valid secret.

Addresses here are the direct peer (``REMOTE_ADDR``): with no trusted proxy that is the source IP.
"""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from clients import limits as client_auth_limits
from clients.limits import ClientAuthLimits, _Refusals, refusals
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR, make_community
from tests.stack import http

PARTNER_IP = "203.0.113.7"
BOTNET = [f"198.51.100.{n}" for n in range(1, 21)]
ENDPOINTS = ("/auth/token", "/auth/revoke", "/auth/revocation-requests")
pytestmark = pytest.mark.usefixtures("one_window")


def rates(**rates):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
    )


def post(api, path, body, ip):
    return api.post(path, body, format="json", REMOTE_ADDR=ip)


def partner_requests_succeed(api, created, ip=PARTNER_IP) -> list[int]:
    """The partner's own correct calls, from its own address: a token, a revocation, a compromise report."""
    credentials = {"client_id": created.community.client_id, "client_secret": created.client_secret}
    token = post(api, "/auth/token", credentials, ip)
    revoke = post(api, "/auth/revoke", {**credentials, "token": token.json().get("access_token", "x")}, ip)
    report = post(api, "/auth/revocation-requests", {**credentials, "reason": "our server was breached"}, ip)
    return [token.status_code, revoke.status_code, report.status_code]


@pytest.mark.django_db
def test_requests_naming_a_client_id_without_a_secret_never_limit_the_partner(api, acme):
    with rates(token_client="3/min", token_failures="2/min"):
        for ip in BOTNET:
            for path in ENDPOINTS:
                for _ in range(2):
                    assert post(api, path, {"client_id": "acme"}, ip).status_code == 400
        assert partner_requests_succeed(api, acme) == [200, 200, 202]


@pytest.mark.django_db
def test_wrong_secrets_from_many_addresses_never_limit_the_partner(api, acme, globex):
    wrong = {"client_id": "acme", "client_secret": globex.client_secret, "token": "x", "reason": "x"}
    with rates(token_client="3/min", token_failures="2/min"):
        for ip in BOTNET:
            statuses = [post(api, path, wrong, ip).status_code for path in ENDPOINTS]
            assert statuses == [401, 401, 429]  # the address is cut off after its own 2 failures
        assert partner_requests_succeed(api, acme) == [200, 200, 202]


@pytest.mark.django_db
def test_wrong_secrets_in_http_basic_never_limit_the_partner(api, acme, globex):
    from tests.conftest import basic

    with rates(token_client="2/min", token_failures="1/min"):
        for ip in BOTNET:
            api.post("/auth/token", {}, format="json", REMOTE_ADDR=ip, **basic("acme", globex.client_secret))
        assert partner_requests_succeed(api, acme) == [200, 200, 202]


@pytest.mark.django_db
def test_failures_lock_out_only_the_address_they_come_from(api, acme, globex):
    attacker = "198.51.100.66"
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    right_globex = {"client_id": "globex", "client_secret": globex.client_secret}
    with rates(token_failures="3/min"):
        assert [post(api, "/auth/token", wrong, attacker).status_code for _ in range(4)] == [
            401,
            401,
            401,
            429,
        ]
        locked = post(api, "/auth/token", right_globex, attacker)  # per source IP: every client_id
        assert locked.status_code == 429 and locked.json()["error"] == "rate_limited"
        assert int(locked["Retry-After"]) >= 1
        assert post(api, "/auth/token", right_globex, PARTNER_IP).status_code == 200
        assert partner_requests_succeed(api, acme) == [200, 200, 202]


@pytest.mark.django_db
def test_only_authenticated_requests_count_per_client_id(api, acme, globex):
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    with rates(token_client="2/min", token_failures="100/min"):
        for _ in range(10):
            assert post(api, "/auth/token", wrong, "198.51.100.1").status_code == 401
            assert post(api, "/auth/token", {"client_id": "acme"}, "198.51.100.1").status_code == 400
        # The partner's own servers, from two addresses, share its per-client_id allowance.
        statuses = [
            post(api, "/auth/token", right, ip).status_code for ip in (PARTNER_IP, "203.0.113.8", PARTNER_IP)
        ]
    assert statuses == [200, 200, 429]


@pytest.mark.django_db
def test_compromise_report_gets_through_when_a_leaked_secret_spent_the_client_limit(api, acme):
    """The thief holds the real secret and burns the partner's per-client allowance from elsewhere."""
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    with rates(token_client="2/min"):
        thief = [post(api, "/auth/token", right, "198.51.100.99").status_code for _ in range(3)]
        assert thief == [200, 200, 429]
        report = post(api, "/auth/revocation-requests", {**right, "reason": "leaked"}, PARTNER_IP)
    assert report.status_code == 202, report.content


@pytest.mark.django_db
def test_failures_from_the_partners_own_address_do_count_there(api, acme, globex):
    """The limits still bite where the failures come from: the partner's address after its own 3 failures."""
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    with rates(token_failures="3/min"):
        for _ in range(3):
            assert post(api, "/auth/token", wrong, PARTNER_IP).status_code == 401
        assert partner_requests_succeed(api, acme)[0] == 429


@pytest.mark.django_db
def test_every_attempt_counts_per_source_ip(api, acme):
    with rates(token_ip="3/min"):
        statuses = [
            post(api, "/auth/token", body, "198.51.100.5").status_code
            for body in (
                {"client_id": "acme"},
                {},
                {"client_id": "acme", "client_secret": acme.client_secret},
                {"client_id": "acme", "client_secret": acme.client_secret},
            )
        ]
        assert statuses == [400, 400, 200, 429]
        assert (
            post(
                api, "/auth/token", {"client_id": "acme", "client_secret": acme.client_secret}, PARTNER_IP
            ).status_code
            == 200
        )


# --- exact under concurrency (item 2) -------------------------------------------------------------


def _parallel(count: int, send) -> Counter:
    """``count`` requests released at once from as many threads; their status codes."""
    start = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        start.wait(timeout=30)
        status = send(index)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == count
    return Counter(statuses)


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_secrets_get_exactly_the_limit_of_checked_answers(live_server):
    """20 wrong secrets at once from one address against a limit of 5: exactly 5 answered 401.

    (The in-process test server queues only a few connections; tests/test_partner_served_under_attack.py sends 50 at once
    to real gunicorn workers.)"""
    victim = make_community("victim")
    wrong = {"client_id": "victim", "client_secret": make_community("other").client_secret}
    with rates(token_failures="5/h", token_ip="1000/min"):
        statuses = _parallel(
            20, lambda _n: http("POST", f"{live_server.url}/auth/token", wrong, timeout=60)[0]
        )
        assert statuses == Counter({401: 5, 429: 15})
        status, _body = http(
            "POST",
            f"{live_server.url}/auth/token",
            {"client_id": "victim", "client_secret": victim.client_secret},
        )
    assert status == 429  # that address is locked out for the window, right secret or not


# --- cost (issue 14): one cache round trip per request; refusals a process knows cost none -----------


@pytest.fixture
def cache_calls(monkeypatch):
    """Every cache call the client-authentication limits make (on any backend): they all go through
    ``shared_counters``. The list of what each call added and read."""
    calls = []
    original = client_auth_limits.shared_counters

    def counting(increments, reads=()):
        calls.append((list(increments), list(reads)))
        return original(increments, reads)

    monkeypatch.setattr(client_auth_limits, "shared_counters", counting)
    return calls


@pytest.mark.django_db
@pytest.mark.skipif(
    not settings.CACHES["default"]["LOCATION"].startswith("redis://"),
    reason="counts Redis round trips (CI's PostgreSQL + Redis run)",
)
def test_token_endpoint_limits_take_a_redis_round_trip_before_and_one_after_authentication(
    api, acme, globex, monkeypatch
):
    from redis.connection import Connection

    sent = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    # The attempt before the view; the outcome once authentication has returned (none for bad input).
    for body, status, trips in (
        (right, 200, 2),
        (wrong, 401, 2),
        ({"client_id": "acme"}, 400, 1),
        ("{not json", 400, 1),
    ):
        sent.clear()
        if isinstance(body, str):
            response = api.post("/auth/token", body, content_type="application/json", REMOTE_ADDR=PARTNER_IP)
        else:
            response = post(api, "/auth/token", body, PARTNER_IP)
        assert response.status_code == status
        assert len(sent) == trips, (status, sent)


@pytest.mark.django_db
def test_a_refused_caller_known_to_this_process_costs_no_cache_call_and_no_query(
    api, acme, globex, cache_calls, django_assert_num_queries
):
    """A locked-out address cannot make the server check secrets or write audit rows for it."""
    attacker = "198.51.100.66"
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    with rates(token_failures="3/min"):
        assert [post(api, "/auth/token", wrong, attacker).status_code for _ in range(3)] == [401] * 3
        assert len(cache_calls) == 6  # the attempt and the failure, each
        cache_calls.clear()
        for body in (wrong, {"client_id": "globex", "client_secret": globex.client_secret}, {}):
            with django_assert_num_queries(0):
                refused = post(api, "/auth/token", body, attacker)
            assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
            assert 1 <= int(refused["Retry-After"]) <= 60
        assert cache_calls == []


@pytest.mark.django_db
def test_the_first_refusal_on_a_new_process_comes_from_the_shared_count(api, acme, globex, cache_calls):
    attacker = "198.51.100.66"
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    right = {"client_id": "globex", "client_secret": globex.client_secret}
    with rates(token_failures="3/min"):
        for _ in range(3):
            assert post(api, "/auth/token", wrong, attacker).status_code == 401
        refusals.clear()  # a fresh process (another worker, another server): it has seen nothing
        cache_calls.clear()
        assert post(api, "/auth/token", right, attacker).status_code == 429  # the shared count says so
        assert len(cache_calls) == 1
        assert post(api, "/auth/token", right, attacker).status_code == 429  # now known here
        assert len(cache_calls) == 1


@pytest.mark.django_db
def test_a_remembered_refusal_never_refuses_another_address_client_or_window(api, acme, globex):
    attacker = "198.51.100.66"
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    acme_right = {"client_id": "acme", "client_secret": acme.client_secret}
    globex_right = {"client_id": "globex", "client_secret": globex.client_secret}
    with rates(token_failures="3/min", token_ip="5/min"):
        for _ in range(3):
            assert post(api, "/auth/token", wrong, attacker).status_code == 401
        assert post(api, "/auth/token", acme_right, attacker).status_code == 429
        # The client_id it guessed at, and another one, from other addresses.
        assert post(api, "/auth/token", acme_right, PARTNER_IP).status_code == 200
        assert post(api, "/auth/token", globex_right, "203.0.113.9").status_code == 200
        # An address that reached its rate of attempts: refused, no one else is.
        busy = "203.0.113.50"
        assert [post(api, "/auth/token", globex_right, busy).status_code for _ in range(6)] == [200] * 5 + [
            429
        ]
        assert post(api, "/auth/token", globex_right, "203.0.113.51").status_code == 200
    with rates(token_failures="30/min", token_ip="50/min"):  # what was reached under a lower limit
        assert post(api, "/auth/token", acme_right, attacker).status_code == 200
        assert post(api, "/auth/token", globex_right, busy).status_code == 200
    next_window = time_machine.travel(timezone.now() + timedelta(seconds=60))
    with rates(token_failures="3/min", token_ip="5/min"), next_window:
        assert post(api, "/auth/token", acme_right, attacker).status_code == 200
        assert post(api, "/auth/token", globex_right, busy).status_code == 200


def test_the_memo_of_refusals_is_bounded_and_forgets_ended_windows():
    """It is keyed by caller input: a flood of distinct refused callers cannot grow it without bound, and
    what it drops only costs that caller a round trip to the shared count again."""
    now = time.time()
    memo = _Refusals(size=100)
    callers = [
        ClientAuthLimits(source_ip=f"198.18.{n // 250}.{n % 250}", client_id=None, now=now)
        for n in range(250)
    ]
    for caller in callers:
        memo.remember([caller.per_ip], now)
        assert len(memo._ends) <= 100
    assert memo.known([callers[0].per_ip]) == []  # the oldest went first
    assert memo.known([callers[-1].per_ip]) == [callers[-1].per_ip]
    later = now + 86400 * 2  # every window of those ended
    fresh = ClientAuthLimits(source_ip="203.0.113.1", client_id=None, now=later)
    memo.remember([fresh.per_ip], later)
    assert memo.known([fresh.per_ip]) == [fresh.per_ip]
    assert len(memo._ends) == 1


@pytest.mark.django_db
def test_a_refused_dpop_proof_counts_as_a_failure(api):
    """With DPoP required, a valid secret without a proof is ``invalid_client``: counted like a wrong
    secret (after the success was counted: a second round trip, only for a caller holding the secret)."""
    created = make_community("dpopco")
    client_auth_policy_set(
        community=created.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR
    )
    credentials = {"client_id": "dpopco", "client_secret": created.client_secret}
    with rates(token_failures="2/min"):
        statuses = [post(api, "/auth/token", credentials, PARTNER_IP).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        assert post(api, "/auth/token", credentials, "203.0.113.9").status_code == 401  # another address


# --- a 429 says which limit was reached (SPEC §2.1) ------------------------------------------------


def _said(response) -> str:
    assert response.status_code == 429 and response.json()["error"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    return response.json()["error_description"]


@pytest.mark.django_db
def test_a_429_after_failed_authentications_says_so_even_to_the_right_secret(api, acme, globex):
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    with rates(token_failures="3/min"):
        for _ in range(3):
            assert post(api, "/auth/token", wrong, "203.0.113.9").status_code == 401
        counted = api.post(
            "/auth/token", wrong, format="json", REMOTE_ADDR="203.0.113.9", HTTP_ACCEPT_LANGUAGE="en"
        )
        remembered = api.post(
            "/auth/token", right, format="json", REMOTE_ADDR="203.0.113.9", HTTP_ACCEPT_LANGUAGE="en"
        )
        portuguese = post(api, "/auth/token", right, "203.0.113.9")
    for response in (counted, remembered):
        assert "failed authentications from this address" in _said(response)
    assert "Autenticações que falharam demais" in _said(portuguese)


@pytest.mark.django_db
def test_a_429_for_too_many_attempts_from_an_address_says_so(api, acme):
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    with rates(token_ip="2/min"):
        for _ in range(2):
            assert post(api, "/auth/token", right, "203.0.113.10").status_code == 200
        refused = api.post(
            "/auth/token", right, format="json", REMOTE_ADDR="203.0.113.10", HTTP_ACCEPT_LANGUAGE="en"
        )
    assert "Too many requests from this address" in _said(refused)


@pytest.mark.django_db
def test_a_429_for_the_clients_own_limit_says_so_and_only_once_authenticated(api, acme, globex):
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    with rates(token_client="2/min"):
        for _ in range(2):
            assert post(api, "/auth/token", right, "203.0.113.11").status_code == 200
        refused = api.post(
            "/auth/token", right, format="json", REMOTE_ADDR="203.0.113.11", HTTP_ACCEPT_LANGUAGE="en"
        )
        # An outsider naming the client, spent allowance or not, learns nothing: a plain 401.
        outsider = post(
            api, "/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, "198.51.100.7"
        )
    assert "Too many requests for this client" in _said(refused)
    assert outsider.status_code == 401 and outsider.json()["error"] == "invalid_client"


def test_a_limit_missing_from_the_naming_order_is_named_last_not_a_server_error():
    """A window added later without a place in ``_MOST_TELLING`` still gives a 429, never a ValueError."""
    now = time.time()
    new_rule = client_auth_limits._Window("token_client_hourly", "token_client_hourly", "x", now)
    per_ip = client_auth_limits._Window("token_ip", "token_ip", "x", now)

    assert client_auth_limits._refusal([new_rule, per_ip], now).scope == "token_ip"
    alone = client_auth_limits._refusal([new_rule], now)
    assert alone.status_code == 429
    assert alone.scope == "token_client_hourly"
