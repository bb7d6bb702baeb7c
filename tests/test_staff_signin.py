"""Staff sign-in (issue 10 item 11, SPEC §5a): rate limited per account + source IP with django-axes,
a console page for the lockout, and every sign-in, failed sign-in and lockout in the audit trail.

Through the real admin login view. Attempts are counted in the database, so the limit holds with any
cache; a cleared cache unlocks nothing.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core import serializers
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
Event = AuditEvent.EventType

PASSWORD = "correct-horse-battery-staple-7"
WRONG = "Tr0ub4dor&3-not-it"
LOGIN = "/admin/login/?next=/admin/"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """The limit is about counting attempts, not hashing cost: a fast hasher keeps 100 attempts quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sue():
    return User.objects.create_user("sue", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def bob():
    return User.objects.create_user("bob", password=PASSWORD, is_staff=True, is_superuser=True)


def sign_in(username: str, password: str, ip: str = "203.0.113.7", client: Client | None = None, **headers):
    client = client or Client()
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)
    return client, response


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def lock(username: str = "sue", ip: str = "203.0.113.7", forwarded: str | None = None) -> None:
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    for _ in range(LIMIT):
        sign_in(username, WRONG, ip, **headers)


def test_hundred_wrong_passwords_then_the_right_one_is_refused_while_locked(sue):
    statuses = [sign_in("sue", WRONG)[1].status_code for _ in range(100)]

    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert set(statuses[LIMIT - 1 :]) == {429}  # from the failure that reaches the limit on
    client, response = sign_in("sue", PASSWORD)
    assert response.status_code == 429 and not signed_in(response)
    assert client.get("/admin/").status_code == 302  # no session: back to the sign-in page
    # Attempts while locked are refused without being counted: the lockout ends when the page says.
    assert AccessAttempt.objects.get(username="sue").failures_since_start == LIMIT


def test_the_lockout_ends_after_the_cool_off_and_the_right_password_then_works(sue):
    lock()
    assert sign_in("sue", PASSWORD)[1].status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert signed_in(sign_in("sue", PASSWORD)[1])
    # Success resets the count: a new streak of failures starts from zero.
    assert not AccessAttempt.objects.filter(username="sue").exists()


def test_another_address_signs_in_to_the_locked_account(sue):
    lock(ip="203.0.113.7")

    assert signed_in(sign_in("sue", PASSWORD, ip="198.51.100.20")[1])


def test_another_account_signs_in_from_the_locked_address(sue, bob):
    lock("sue", ip="203.0.113.7")

    assert signed_in(sign_in("bob", PASSWORD, ip="203.0.113.7")[1])
    assert sign_in("sue", PASSWORD, ip="203.0.113.7")[1].status_code == 429


def test_a_forged_x_forwarded_for_does_not_buy_fresh_attempts(sue):
    for attempt in range(LIMIT):
        sign_in("sue", WRONG, ip="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.9.8.{attempt}")

    _, response = sign_in("sue", PASSWORD, ip="203.0.113.7", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_counted_and_audited(sue, settings):
    from bfluence.source_ip import parse_trusted_proxies

    settings.BFLUENCE = {**settings.BFLUENCE, "TRUSTED_PROXIES": parse_trusted_proxies(["10.0.0.2"])}
    lock(ip="10.0.0.2", forwarded="198.51.100.66")

    assert sign_in("sue", PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66")[1].status_code == 429
    assert signed_in(sign_in("sue", PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.77")[1])
    locked = AuditEvent.objects.get(event_type=Event.STAFF_LOCKED_OUT)
    assert locked.source_ip == "198.51.100.66"
    assert AuditEvent.objects.get(event_type=Event.STAFF_SIGNED_IN).source_ip == "198.51.100.77"


def test_the_lock_lives_in_the_database_so_a_cleared_cache_unlocks_nothing(sue):
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    lock()
    cache.clear()

    assert sign_in("sue", PASSWORD)[1].status_code == 429


def test_the_lockout_is_a_console_page_never_api_json(sue):
    lock()
    for headers in ({}, {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}, {"HTTP_ACCEPT": "application/json"}):
        _, response = sign_in("sue", PASSWORD, **headers)
        assert response.status_code == 429
        assert response["Content-Type"].startswith("text/html")
        assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
        assert "no-store" in response["Cache-Control"]
        body = response.content.decode()
        assert '"error"' not in body and 'id="site-name"' in body  # the console's own header and layout
    _, english = sign_in("sue", PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert f"Try again in {minutes}\xa0minutes" in english.content.decode()  # timesince's no-break space
    _, portuguese = sign_in("sue", PASSWORD, HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert f"Tente de novo em {minutes}\xa0minutos" in portuguese.content.decode()


def test_sign_in_failed_sign_in_and_lockout_are_audited_with_who_and_ip(sue):
    sign_in("sue", PASSWORD, ip="198.51.100.20")
    lock(ip="203.0.113.7")
    sign_in("sue", PASSWORD, ip="203.0.113.7")  # refused while locked

    signed_in_row = AuditEvent.objects.get(event_type=Event.STAFF_SIGNED_IN)
    assert (signed_in_row.actor_type, signed_in_row.actor, signed_in_row.source_ip) == (
        "staff",
        "sue",
        "198.51.100.20",
    )
    failed = AuditEvent.objects.filter(event_type=Event.STAFF_SIGN_IN_FAILED).order_by("id")
    # Attempts refused while locked are counted, not recorded: the lock is one row of its own.
    assert [row.details["reason"] for row in failed] == ["invalid_credentials"] * LIMIT
    assert {(row.actor_type, row.actor, row.source_ip) for row in failed} == {("staff", "sue", "203.0.113.7")}
    [locked] = AuditEvent.objects.filter(event_type=Event.STAFF_LOCKED_OUT)  # once, when it started
    assert (locked.actor, locked.source_ip) == ("sue", "203.0.113.7")
    assert locked.details == {
        "failures": LIMIT,
        "account_known": True,
        "locked_for_seconds": int(settings.AXES_COOLOFF_TIME.total_seconds()),
    }


def test_nothing_secret_lands_in_the_audit_trail_or_the_attempt_records(sue):
    sign_in("sue", WRONG)
    sign_in(PASSWORD, PASSWORD)  # the password typed into the username field: a classic slip
    sign_in("sue", PASSWORD)

    stored = serializers.serialize("json", AuditEvent.objects.all()) + serializers.serialize(
        "json", AccessAttempt.objects.all()
    )
    for secret in (PASSWORD, WRONG):
        assert secret not in stored
    unknown = AuditEvent.objects.get(event_type=Event.STAFF_SIGN_IN_FAILED, actor_type="anonymous")
    assert unknown.actor == "-" and unknown.details["account_known"] is False
    assert unknown.source_ip == "203.0.113.7"


def parallel_wrong_passwords(
    url: str, *, count: int = 20, fields: dict | None = None, session_cookie: str | None = None
) -> list[int]:
    """``count`` POSTs of wrong passwords to ``url`` released at the same instant, each from its own
    browser session (its own CSRF token); their statuses."""
    import re
    import threading
    import urllib.error
    import urllib.parse
    import urllib.request
    from http.cookiejar import Cookie, CookieJar

    sessions = []
    for _ in range(count):
        jar = CookieJar()
        if session_cookie:  # a signed-in staff member's session, for the sudo prompt
            jar.set_cookie(
                Cookie(
                    0,
                    settings.SESSION_COOKIE_NAME,
                    session_cookie,
                    None,
                    False,
                    "localhost.local",
                    False,
                    False,
                    "/",
                    True,
                    False,
                    None,
                    False,
                    None,
                    None,
                    {},
                )
            )
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(url, timeout=30).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        sessions.append((opener, csrf))
    statuses, start = [], threading.Barrier(count)

    def attempt(opener, csrf, number):
        body = urllib.parse.urlencode(
            {**(fields or {}), "password": f"wrong-{number}", "csrfmiddlewaretoken": csrf}
        ).encode()
        start.wait()
        try:
            statuses.append(opener.open(urllib.request.Request(url, data=body), timeout=60).status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [
        threading.Thread(target=attempt, args=(*session, number)) for number, session in enumerate(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def assert_exactly_the_limit_was_checked(event_type=Event.STAFF_SIGN_IN_FAILED) -> None:
    failed = AuditEvent.objects.filter(event_type=event_type)
    assert failed.filter(details__reason="invalid_credentials").count() == LIMIT  # passwords checked
    assert AuditEvent.objects.filter(event_type=Event.STAFF_LOCKED_OUT).count() == 1
    assert AccessAttempt.objects.get(username="sue").failures_since_start == LIMIT


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_get_exactly_the_limit_of_guesses(live_server):
    """Attempts at one account from one address are serialised (advisory lock on PostgreSQL), so the
    count every attempt sees is exact: 20 at once get LIMIT password checks, then the lock."""
    User.objects.create_user("sue", password=PASSWORD, is_staff=True)

    statuses = parallel_wrong_passwords(f"{live_server.url}/admin/login/", fields={"username": "sue"})

    assert sorted(statuses) == [200] * (LIMIT - 1) + [429] * (len(statuses) - LIMIT + 1)
    assert_exactly_the_limit_was_checked()


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_at_the_sudo_prompt_get_exactly_the_limit_too(live_server):
    """The console's password prompt (sudo mode) goes through the same limit, serialised the same way:
    a stolen session cannot guess the password faster there than at the sign-in form."""
    sue = User.objects.create_user("sue", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(sue)
    session = client.session
    session["console.password_confirmed_at"] = 0  # typed long ago: the prompt checks it
    session.save()

    statuses = parallel_wrong_passwords(
        f"{live_server.url}/admin/console/confirm-password/",
        session_cookie=client.cookies[settings.SESSION_COOKIE_NAME].value,
    )

    assert sorted(statuses) == [200] * (LIMIT - 1) + [429] * (len(statuses) - LIMIT + 1)
    # The prompt's failures are their own event type, not failed sign-ins.
    assert_exactly_the_limit_was_checked(Event.STAFF_PROMPT_FAILED)
    assert not AuditEvent.objects.filter(event_type=Event.STAFF_SIGN_IN_FAILED).exists()


@pytest.mark.parametrize(
    "name, value",
    [
        ("STAFF_SIGNIN_FAILURE_LIMIT", "0"),
        ("STAFF_SIGNIN_FAILURE_LIMIT", "1000"),
        ("STAFF_SIGNIN_FAILURE_LIMIT", "five"),
        ("STAFF_SIGNIN_LOCKOUT", "30s"),
        ("STAFF_SIGNIN_LOCKOUT", "2d"),
        ("STAFF_SIGNIN_LOCKOUT", "forever"),
    ],
)
def test_absurd_sign_in_limits_stop_start_up(name, value):
    root = Path(__file__).resolve().parent.parent
    env = {key: item for key, item in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        SECRET_KEY="trust-c-settings-test-secret-key-with-some-variety-0123456789",
        JWT_SIGNING_KEY="j" * 40,
        DEBUG="false",
        PYTHONPATH=str(root),
        **{name: value},
    )
    result = subprocess.run(
        [sys.executable, str(root / "manage.py"), "check"],
        env=env,
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"Bfluence cannot start: {name}" in result.stderr


def test_the_lockout_page_says_how_long_is_left_not_the_whole_cool_off(sue, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    lock()
    _, first = sign_in("sue", PASSWORD)
    assert "Tente de novo em 30\xa0minutos" in first.content.decode()
    locked_at = AccessAttempt.objects.get(username="sue").attempt_time
    with time_machine.travel(locked_at + timedelta(minutes=20, seconds=10), tick=False):
        _, later = sign_in("sue", PASSWORD)
        assert later.status_code == 429
        assert "Tente de novo em 10\xa0minutos" in later.content.decode()  # 9 min 50 s, rounded up
        assert int(later["Retry-After"]) == 590
    with time_machine.travel(locked_at + timedelta(minutes=29, seconds=30), tick=False):
        _, last = sign_in("sue", PASSWORD)
        assert "Tente de novo em 1\xa0minuto." in last.content.decode()
    settings.AXES_COOLOFF_TIME = timedelta(hours=2)
    lock("bob-unknown", ip="198.51.100.7")  # an unknown name: still locked by address
    _, hours = sign_in("bob-unknown", PASSWORD, ip="198.51.100.7")
    assert "Tente de novo em 2\xa0horas." in hours.content.decode()
