"""An unknown client_id and a known one with a wrong secret, or a wrong signature, cost the same (SPEC
§2.1): ``client_secret`` and ``private_key_jwt`` alike.

Two layers of proof:
- the work is identical by construction: the same SQL statements, the same audit row (no foreign key
  for one and not the other), the same number of digest comparisons;
- the time is identical by measurement, with a detector shown, in the same run, to catch 100 µs.

Why the measurement is stable on a shared, noisy machine: the conditions are interleaved in a shuffled
order inside every round, so load spikes hit all of them alike; each round yields *paired* differences
(condition minus the baseline measured right beside it), and the median of those differences ignores
the rounds a spike did hit. A control condition identical to the baseline gives the noise floor, and a
condition with 100 µs of extra work added on purpose proves the detector would see such a gap.
"""

import random
import re
import statistics
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from bfluence.errors import InvalidClient
from clients.services import ClientAssertion, ClientCredentials, client_authenticate, client_key_add
from clients.services.keys import MAX_ACTIVE_KEYS
from tests.conftest import TEST_ACTOR, make_community, post_form, request_token
from tests.keyfactory import ASSERTION_TYPE, assertion, private_key, public_jwk_json

pytestmark = pytest.mark.django_db

NO_LIMITS = override_settings(
    REST_FRAMEWORK={
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(
            settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "1000000/min"
        ),
    }
)
TOLERANCE = 50e-6  # half the 100 µs the issue measured: a real gap of 100 µs can never pass
INJECTED = 100e-6
# On a machine slower than usual every path's work takes longer, the small remaining difference too
# (the database sends a known client_id's two short rows of id, salt and digest). So the gap may be up
# to 3% of the call's own time there, never more than 75 µs: a 100 µs difference still always fails.
RELATIVE_TOLERANCE, MOST_TOLERANCE = 0.03, 75e-6
ROUNDS = 1000
ATTEMPTS = 4


def _normalised(sql: str) -> str:
    """The statement without its values (client_ids, timestamps, ids differ between two attempts)."""
    return re.sub(r"\b\d+(\.\d+)?\b", "?", re.sub(r"'[^']*'", "?", sql))


def _busy(api, created) -> None:
    """The known client as the token endpoint sees a busy partner: tokens issued, its secret used."""
    with NO_LIMITS:
        for _ in range(3):
            assert request_token(api, created).status_code == 200


def test_unknown_and_known_client_ids_run_the_same_statements_and_write_the_same_row(api, acme, globex):
    _busy(api, acme)
    attempts = {
        "unknown": {"client_id": "nobody-here", "client_secret": globex.client_secret},
        "known": {"client_id": "acme", "client_secret": globex.client_secret},
    }
    statements = {}
    with NO_LIMITS:
        for name, body in attempts.items():
            with CaptureQueriesContext(connection) as queries:
                assert api.post("/auth/token", body, format="json").status_code == 401
            statements[name] = [_normalised(query["sql"]) for query in queries.captured_queries]
    assert statements["unknown"] == statements["known"]
    rows = list(
        AuditEvent.objects.filter(event_type="client_auth_failed")
        .order_by("id")
        .values("community_id", "actor_type", "actor", "jti", "source_ip", "details")
    )
    assert len(rows) == 2 and rows[0] == rows[1]
    assert rows[0]["community_id"] is None  # a foreign key only for known clients would cost time


def _same_time(conditions, rounds: int = ROUNDS) -> None:
    """Measure ``conditions`` (``unknown``, its twin, ``known``, ``unknown_plus_100us``) and assert the
    known one costs what the unknown one does; skip if the machine never allows a valid measurement."""
    report = []
    for _attempt in range(ATTEMPTS):
        samples = _measure(conditions, rounds)
        noise = abs(_paired_gap(samples, "unknown", "unknown_twin"))
        gap = _paired_gap(samples, "unknown", "known")
        seen = _paired_gap(samples, "unknown", "unknown_plus_100us")
        report.append(
            f"gap {gap * 1e6:+.1f} µs, noise {noise * 1e6:.1f} µs, injected seen as {seen * 1e6:.1f} µs"
        )
        # A valid measurement is quiet between two identical conditions and reads the injected 100 µs
        # as 100 µs (±25); otherwise this attempt measured the machine's load, not the code: again.
        if noise < TOLERANCE / 2 and abs(seen - INJECTED) < TOLERANCE / 2:
            call = statistics.median(samples["unknown"])
            allowed = min(max(TOLERANCE, RELATIVE_TOLERANCE * call), MOST_TOLERANCE)
            report.append(f"call {call * 1e6:.0f} µs, allowed {allowed * 1e6:.0f} µs")
            assert abs(gap) < allowed, "; ".join(report)
            return
    # No valid measurement at all (the machine was saturated every time): a timing verdict drawn from
    # invalid measurements would mean nothing either way. The statement-level test above still holds.
    pytest.skip("too noisy to measure timing in %d attempts: %s" % (ATTEMPTS, "; ".join(report)))


def _busy_wait(seconds: float) -> None:
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def _paired_gap(samples: dict[str, list[float]], baseline: str, other: str) -> float:
    return statistics.median(b - a for a, b in zip(samples[baseline], samples[other]))


def _measure(
    conditions: dict[str, tuple[ClientCredentials | ClientAssertion, float]], rounds: int
) -> dict[str, list[float]]:
    samples = {name: [] for name in conditions}
    order = list(conditions)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            credentials, extra = conditions[name]
            started = time.perf_counter()
            try:
                client_authenticate(credentials=credentials, source_ip="127.0.0.1")
            except InvalidClient:
                pass
            else:
                raise AssertionError(f"{name} authenticated")
            if extra:
                _busy_wait(extra)  # as if the server did 100 µs more work for this one
            samples[name].append(time.perf_counter() - started)
    return samples


def test_unknown_and_known_client_ids_take_the_same_time(api, acme, globex):
    """Measured on ``client_authenticate``, the only code whose path depends on the client_id: the view,
    the parsers and the rate limits around it run the same code for both (and the test above pins the
    statements). A whole in-process HTTP request costs ~10x more on this shared machine, and its noise
    between two identical conditions (±50–130 µs measured) would hide the 100 µs we must catch."""
    _busy(api, acme)
    wrong_secret = globex.client_secret
    conditions = {
        "unknown": (ClientCredentials("nobody-here", wrong_secret), 0.0),
        "unknown_twin": (ClientCredentials("nobody-else", wrong_secret), 0.0),
        "known": (ClientCredentials("acme", wrong_secret), 0.0),
        "unknown_plus_100us": (ClientCredentials("nobody-here", wrong_secret), INJECTED),
    }
    _same_time(conditions)


# --- private_key_jwt: an unknown client_id or kid costs what the most keys cost --------------------

TOKEN_URL = "http://testserver/auth/token"


@pytest.fixture
def keyed(db):
    """acme with two registered EC keys (what the issue measured): a kid-less assertion has two keys of
    its type to try. The assertions below are signed by a third key, registered nowhere."""
    created = make_community("acme", members={"123": 1500})
    for kid in ("k1", "k2"):
        jwk = public_jwk_json(private_key("ES256", fresh=True), kid=kid)
        client_key_add(community=created.community, key_text=jwk, actor=TEST_ACTOR)
    return created


def _forged(client_id: str, kid: str | None = None) -> ClientAssertion:
    headers = {"kid": kid} if kid else None
    signed = assertion(private_key("ES256"), client_id, TOKEN_URL, headers=headers)
    return ClientAssertion(client_id=None, assertion=signed, audiences=(TOKEN_URL,))


def test_assertions_for_unknown_and_known_clients_and_kids_run_the_same_statements(api, keyed):
    """The same statements and the same audit row, with a kid and without, for an unknown client_id, a
    known one, and a known one with an unknown kid."""
    attempts = {
        "unknown": _forged("nobody-here"),
        "known": _forged("acme"),
        "unknown_with_kid": _forged("nobody-here", kid="k1"),
        "known_unknown_kid": _forged("acme", kid="nope"),
    }
    statements = {}
    with NO_LIMITS:
        for name, credentials in attempts.items():
            body = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": credentials.assertion,
            }
            with CaptureQueriesContext(connection) as queries:
                assert post_form(api, "/auth/token", body).status_code == 401
            statements[name] = [_normalised(query["sql"]) for query in queries.captured_queries]
    assert len({tuple(found) for found in statements.values()}) == 1, statements
    rows = list(
        AuditEvent.objects.filter(event_type="client_auth_failed")
        .order_by("id")
        .values("community_id", "actor_type", "details")
    )
    assert len(rows) == 4 and all(row == rows[0] for row in rows) and rows[0]["community_id"] is None


def test_a_kidless_assertion_verifies_against_the_most_keys_whoever_it_names(keyed, monkeypatch):
    """The work by construction: MAX_ACTIVE_KEYS signature checks for an unknown client_id and for a
    community with two keys alike (a throwaway key standing in for each key it does not have)."""
    from clients import assertions

    checks = []
    original = assertions._decode
    monkeypatch.setattr(assertions, "_decode", lambda *args: checks.append(1) or original(*args))
    for client_id in ("nobody-here", "acme"):
        checks.clear()
        with pytest.raises(InvalidClient):
            client_authenticate(credentials=_forged(client_id), source_ip="127.0.0.1")
        assert len(checks) == MAX_ACTIVE_KEYS, client_id
    for client_id, kid in (("nobody-here", "k1"), ("acme", "nope"), ("acme", "k1")):
        checks.clear()
        with pytest.raises(InvalidClient):
            client_authenticate(credentials=_forged(client_id, kid=kid), source_ip="127.0.0.1")
        assert len(checks) == 1, (client_id, kid)


def test_assertions_for_unknown_and_known_client_ids_take_the_same_time(keyed):
    """The issue's case: kid-less assertions for a community with two EC keys took 311–369 µs longer
    than for an unknown client_id."""
    conditions = {
        "unknown": (_forged("nobody-here"), 0.0),
        "unknown_twin": (_forged("nobody-else"), 0.0),
        "known": (_forged("acme"), 0.0),
        "unknown_plus_100us": (_forged("nobody-here"), INJECTED),
    }
    _same_time(conditions, rounds=ROUNDS // 2)  # each call verifies five signatures: fewer rounds
