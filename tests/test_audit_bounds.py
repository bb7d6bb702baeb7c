"""What an outsider makes in the audit trail, an operator can bound (SECURITY.md, audit growth; SPEC §4).

- A request refused by a rate limit (429) writes no audit row: the limit's metric counts it.
- Failures naming one client_id get an audit row up to ``AUDIT_FAILURES_PER_CLIENT`` (100/hour) per
  client_id; beyond it they are still refused and counted (a metric), not recorded.
- Refusals of a real credential of the community (its secret ended or suspended, the community inactive,
  its policy refusing the method) name the community: they get an audit row up to their own allowance,
  ``AUDIT_CREDENTIAL_REFUSALS_PER_CLIENT`` (100/hour) per client_id, apart from the guesses' one, so an
  old leaked secret replayed from many addresses cannot bury staff actions in the community's trail.
- ``purge_audit`` deletes failed-authentication rows of unknown clients older than
  ``AUDIT_FAILURE_RETENTION`` (90d), in batches, ``--json``; every other row stays.
"""

import json
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from bfluence import metrics
from bfluence.usage import AUTH_FAILURES, usage_day, usage_read
from clients.services import secret_rotate
from tests.conftest import TEST_ACTOR, make_community
from tests.stack import http
from tests.test_client_auth_limits import _parallel, cache_calls, rates  # noqa: F401 (a fixture)

Event = AuditEvent.EventType
pytestmark = pytest.mark.usefixtures("one_window")


@pytest.mark.django_db(transaction=True)
def test_parallel_failures_answered_429_write_no_audit_row(live_server):
    """20 wrong secrets at once against a limit of 5: five 401s, five rows — none for the 429s."""
    make_community("victim")
    wrong = {"client_id": "victim", "client_secret": make_community("other").client_secret}
    with rates(token_failures="5/h", token_ip="1000/min"):
        statuses = _parallel(
            20, lambda _n: http("POST", f"{live_server.url}/auth/token", wrong, timeout=60)[0]
        )
    assert statuses == Counter({401: 5, 429: 15})
    assert AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED).count() == 5


def _unaudited() -> float:
    return metrics.UNAUDITED_FAILURES._value.get()


@pytest.mark.django_db
def test_failures_for_one_client_id_are_audited_up_to_the_cap_then_only_counted(api, acme, globex, settings):
    settings.METRICS_ENABLED = True
    before = _unaudited()
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    with rates(token_failures_audited="3/h", token_failures="100/min"):
        statuses = [
            api.post("/auth/token", wrong, format="json", REMOTE_ADDR=f"198.51.100.{n}").status_code
            for n in range(1, 8)
        ]
        # Another client_id has its own allowance.
        other = {"client_id": "globex", "client_secret": acme.client_secret}
        assert api.post("/auth/token", other, format="json", REMOTE_ADDR="198.51.100.9").status_code == 401
    assert statuses == [401] * 7  # still refused, like any failure
    rows = AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED)
    assert rows.filter(client_id="acme").count() == 3
    assert rows.filter(client_id="globex").count() == 1
    assert _unaudited() - before == 4


@pytest.mark.django_db
def test_outsiders_spending_the_audit_allowance_cannot_hide_a_credential_holders_refusal(api, acme, globex):
    call_command("set_client_auth", "acme", "--allowed-ips", "192.0.2.0/24", stdout=StringIO())
    wrong = {"client_id": "acme", "client_secret": globex.client_secret}
    right = {"client_id": "acme", "client_secret": acme.client_secret}
    with rates(token_failures_audited="3/h", token_failures="100/min"):
        for n in range(1, 8):  # the allowance for "acme" spent by guesses from anywhere
            api.post("/auth/token", wrong, format="json", REMOTE_ADDR=f"198.51.100.{n}")
        refused = api.post("/auth/token", right, format="json", REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 401
    rows = AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED, client_id="acme")
    assert rows.count() == 4
    assert rows.filter(details__reason="ip_not_allowed", source_ip="203.0.113.5").count() == 1


def _token(api, client_id: str, secret: str, ip: str):
    return api.post(
        "/auth/token", {"client_id": client_id, "client_secret": secret}, format="json", REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_an_ended_secret_replayed_from_many_addresses_is_audited_up_to_its_own_allowance(
    api, acme, globex, settings
):
    settings.METRICS_ENABLED = True
    before = _unaudited()
    leaked = acme.client_secret
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    with rates(credential_refusals_audited="3/h", token_failures_audited="3/h", token_failures="100/min"):
        replayed = [_token(api, "acme", leaked, f"198.51.100.{n}") for n in range(1, 8)]
        # The guesses' allowance is untouched: an outsider's wrong secret after them is still recorded.
        guessed = _token(api, "acme", globex.client_secret, "192.0.2.9")
    assert [(response.status_code, response.json()["error"]) for response in replayed] == [
        (401, "invalid_client")
    ] * 7
    assert guessed.status_code == 401
    rows = AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED, client_id="acme")
    assert rows.filter(community=acme.community, details__reason="secret_ended").count() == 3
    assert rows.filter(community=None, details__reason="invalid_client").count() == 1
    assert rows.count() == 4
    assert _unaudited() - before == 4
    # Every refusal is still in the day's usage figures, audited or not.
    assert usage_read(["acme"], [usage_day()])[("acme", usage_day(), AUTH_FAILURES)] == 8


@pytest.mark.django_db
def test_outsiders_guesses_do_not_spend_the_allowance_of_a_real_credentials_refusals(api, acme, globex):
    leaked = acme.client_secret
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    with rates(credential_refusals_audited="2/h", token_failures_audited="2/h", token_failures="100/min"):
        for n in range(1, 6):  # the guesses' allowance spent, and more
            _token(api, "acme", globex.client_secret, f"198.51.100.{n}")
        for n in range(1, 4):
            assert _token(api, "acme", leaked, f"203.0.113.{n}").status_code == 401
    rows = AuditEvent.objects.filter(event_type=Event.CLIENT_AUTH_FAILED, client_id="acme")
    assert rows.filter(community=None).count() == 2
    assert rows.filter(community=acme.community, details__reason="secret_ended").count() == 2


@pytest.mark.django_db
def test_a_real_credentials_refusal_is_counted_in_the_one_round_trip_of_any_failure(
    api,
    acme,
    cache_calls,  # noqa: F811 (the fixture imported above)
):
    leaked = acme.client_secret
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(0))
    assert _token(api, "acme", leaked, "198.51.100.1").status_code == 401
    assert len(cache_calls) == 2  # the attempt, then the outcome (failures, allowance, usage together)
    outcome_added, _read = cache_calls[1]
    assert any(key.startswith("throttle_credential_refusals_audited_") for key in outcome_added)
    assert not any(key.startswith("throttle_token_failures_audited_") for key in outcome_added)


def _row_at(when, **fields) -> AuditEvent:
    with time_machine.travel(when, tick=False):
        return audit_record(**fields)


def run_json(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_purge_audit_deletes_only_old_failures_of_unknown_clients(acme, settings):
    now = timezone.now()
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    anonymous = Actor.anonymous()
    failed = {
        "event_type": Event.CLIENT_AUTH_FAILED,
        "actor": anonymous,
        "details": {"reason": "invalid_client"},
    }
    gone = [
        _row_at(old, client_id="nobody-has-this", **failed),
        _row_at(old, client_id="", **failed),  # an assertion that named no client
        _row_at(
            old,
            event_type=Event.STAFF_SIGN_IN_FAILED,
            actor=anonymous,
            details={"reason": "invalid_credentials", "account_known": False},
        ),
    ]
    kept = [
        _row_at(recent, client_id="nobody-has-this", **failed),  # inside the retention
        _row_at(old, client_id="acme", **failed),  # a real tenant's failure: kept
        _row_at(old, event_type=Event.CLIENT_AUTH_FAILED, actor=anonymous, community=acme.community),
        _row_at(old, event_type=Event.TOKEN_ISSUED, actor=Actor.partner("acme"), community=acme.community),
        _row_at(old, event_type=Event.STAFF_SIGN_IN_FAILED, actor=Actor("staff", "sue")),
    ]
    assert run_json("purge_audit", "--batch-size", "2") == {"deleted": 3}
    remaining = set(AuditEvent.objects.values_list("pk", flat=True))
    assert not remaining & {row.pk for row in gone}
    assert {row.pk for row in kept} <= remaining
    purge = AuditEvent.objects.get(event_type=Event.AUDIT_FAILURES_PURGED)
    assert (purge.actor, purge.details["deleted"]) == ("manage.py purge_audit", 3)

    # A shorter retention by option; the setting is the default.
    assert run_json("purge_audit", "--failures-older-than", "30d") == {"deleted": 1}
    settings.BFLUENCE = {**settings.BFLUENCE, "AUDIT_FAILURE_RETENTION": timedelta(days=1)}
    assert run_json("purge_audit") == {"deleted": 0}


@pytest.mark.django_db
def test_purge_audit_says_what_it_did_and_refuses_a_bad_duration():
    out = StringIO()
    call_command("purge_audit", stdout=out)
    assert "0 failed-authentication audit row(s) of unknown clients deleted." in out.getvalue()
    with pytest.raises(CommandError):
        call_command("purge_audit", "--failures-older-than", "forever")
