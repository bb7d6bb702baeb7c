"""Attack run (issue 10): real gunicorn workers sharing Redis, attacked as an outsider would.

A botnet of 100 source addresses hammers a partner's client_id — wrong secrets, no secret, every
client-authenticated endpoint — while the partner keeps getting tokens, revoking and reporting a
compromise from its own address; then 50 wrong secrets arrive at once from one address and exactly the
failure limit of them get a checked answer. Everything comes from 127.0.0.1, so the server trusts
127.0.0.1 as its proxy (``TRUSTED_PROXIES``) and each request names its source in ``X-Forwarded-For``.

Bounded: about 500 requests, 50 at once at most, each with a 30 s timeout.
"""

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import make_community
from tests.stack import Gunicorn, PrivateRedis
from tests.test_multiprocess import _database_url

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]

FAILURE_LIMIT = 10
BOTNET = [f"198.18.{n // 250}.{n % 250 + 1}" for n in range(100)]
PARTNER_IP = "203.0.113.7"
DAY = 86400


@pytest.fixture(scope="module")
def redis_url():
    if os.environ.get("CACHE_URL", "").startswith("redis://"):
        yield os.environ["CACHE_URL"]  # the suite's own Redis database, flushed around every test
        return
    if not shutil.which("redis-server"):
        pytest.skip("needs Redis: CACHE_URL=redis://… or redis-server installed")
    private = PrivateRedis()
    try:
        yield private.url
    finally:
        private.stop()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, redis_url):
    with django_db_blocker.unblock():
        database_url = _database_url()
    if database_url.startswith("sqlite:"):
        # SQLite has one writer at a time: four workers writing audit rows at once must queue for the
        # lock (IMMEDIATE transactions, a generous wait) rather than fail with "database is locked".
        database_url += "?transaction_mode=IMMEDIATE&timeout=30"
    workers = Gunicorn(
        workers=4,
        DATABASE_URL=database_url,
        CACHE_URL=redis_url,
        TRUSTED_PROXIES="127.0.0.1",
        THROTTLE_TOKEN_FAILURES=f"{FAILURE_LIMIT}/d",
        THROTTLE_TOKEN_CLIENT="40/d",
        THROTTLE_TOKEN_IP="1000/min",
    )
    yield workers
    workers.stop()


@pytest.fixture
def shared_counts(redis_url):
    """The server's counters live in ``redis_url``: start each test with none (a private Redis is not the
    one the suite's cache fixture clears)."""
    from redis import Redis

    client = Redis.from_url(redis_url)
    client.flushdb()
    yield
    client.close()


def post(server, path: str, body: dict, source: str) -> int:
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-For": source},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_partner_is_served_while_a_botnet_names_its_client_id(server, shared_counts):
    partner = make_community("target")
    wrong_secret = make_community("bystander").client_secret
    mine = {"client_id": "target", "client_secret": partner.client_secret}
    attacks = [
        ("/auth/token", {"client_id": "target"}),  # no secret at all: 400
        ("/auth/token", {"client_id": "target", "client_secret": wrong_secret}),
        ("/auth/revoke", {"client_id": "target", "client_secret": wrong_secret, "token": "x"}),
        ("/auth/revocation-requests", {"client_id": "target", "client_secret": wrong_secret, "reason": "x"}),
    ]

    def bot(address: str) -> list[int]:
        # Every bot names the client_id without its secret and with wrong ones on every endpoint; one in
        # ten goes on past the failure limit of its own address (11 wrong secrets), then asks once more.
        wrong_ones = FAILURE_LIMIT + 1 if address in BOTNET[::10] else 3
        sequence = [attacks[0]] + [attacks[1 + n % 3] for n in range(wrong_ones)] + [attacks[0]]
        return [post(server, path, body, address) for path, body in sequence]

    partner_statuses = []
    with ThreadPoolExecutor(max_workers=16) as pool:
        botnet = [pool.submit(bot, address) for address in BOTNET]
        while not all(future.done() for future in botnet) and len(partner_statuses) < 30:
            partner_statuses.append(
                post(server, "/auth/token", mine, PARTNER_IP)
            )  # its server, all the while
            time.sleep(0.2)
        bot_statuses = {address: future.result() for address, future in zip(BOTNET, botnet)}
    partner_statuses.append(post(server, "/auth/revoke", {**mine, "token": "x"}, PARTNER_IP))
    partner_statuses.append(
        post(server, "/auth/revocation-requests", {**mine, "reason": "botnet"}, PARTNER_IP)
    )

    assert len(partner_statuses) >= 4
    assert partner_statuses == [200] * (len(partner_statuses) - 1) + [202], server.log_tail()
    for address, statuses in bot_statuses.items():
        if address in BOTNET[::10]:  # locked out after exactly its own 10 failures; the partner is not
            assert statuses == [400] + [401] * FAILURE_LIMIT + [429, 429], (address, statuses)
        else:
            assert statuses == [400, 401, 401, 401, 400], (address, statuses)


def test_failure_limit_holds_exactly_under_50_concurrent_attempts(server, shared_counts):
    victim = make_community("victim")
    wrong = {"client_id": "victim", "client_secret": make_community("decoy").client_secret}
    for address in ["198.19.0.1", "198.19.0.2"]:
        day = int(time.time() // DAY)
        start = threading.Barrier(50)

        def guess(_n: int, address=address, start=start) -> int:
            start.wait(timeout=30)
            return post(server, "/auth/token", wrong, address)

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = Counter(pool.map(guess, range(50)))
        if int(time.time() // DAY) == day:
            break  # all in one fixed window (else: the day turned mid-burst; once more, fresh address)
    assert statuses == Counter({401: FAILURE_LIMIT, 429: 50 - FAILURE_LIMIT}), server.log_tail()
    right = {"client_id": "victim", "client_secret": victim.client_secret}
    assert post(server, "/auth/token", right, address) == 429  # that address is locked out
    assert post(server, "/auth/token", right, PARTNER_IP) == 200  # the partner is not
