"""Staff sign-in floods cannot take the API's CPU (SECURITY.md, staff sign-in): each process hashes at most
``STAFF_SIGNIN_CONCURRENT_HASHES`` passwords at once; an attempt finding no free slot gets the console's
"busy, try again" page (503, ``Retry-After``) at once — not judged, not counted as a failure, not
audited, but logged and counted. Known staff (a signed-in session, the signed cookie a successful
sign-in leaves, or a network where staff signed in within 90 days) have ``STAFF_SIGNIN_RESERVED_HASHES``
more, so an attacker's flood cannot lock real staff out.

Real concurrent requests through the whole console stack. The password hasher is Django's MD5 hasher
that waits, on guesses marked "slow-", until the test lets it go: a hash held as long as the test needs,
without sleeping. PostgreSQL: on SQLite (development) every sign-in in a process is serialised anyway.
"""

import logging
import multiprocessing
import threading

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from console.signin import KNOWN_STAFF_COOKIE, HashSlots, SignInBusy

PASSWORD = "correct-horse-battery-staple-7"
LOGIN = "/admin/login/?next=/admin/"
on_postgresql = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]


class GatedHasher(MD5PasswordHasher):
    algorithm = "gated_md5"
    entered = threading.Event()
    gate = threading.Event()

    def verify(self, password, encoded):
        if password.startswith("slow-"):
            GatedHasher.entered.set()
            GatedHasher.gate.wait(timeout=60)
        return super().verify(password, encoded)


@pytest.fixture
def one_slot_and_one_reserved(settings):
    settings.PASSWORD_HASHERS = ["tests.test_staff_signin_hash_slots.GatedHasher"]
    settings.STAFF_SIGNIN_CONCURRENT_HASHES = 1
    settings.STAFF_SIGNIN_RESERVED_HASHES = 1
    GatedHasher.entered.clear()
    GatedHasher.gate.clear()
    User.objects.create_user("sue", password=PASSWORD, is_staff=True)
    yield
    GatedHasher.gate.set()


def in_thread(results: list[int], password: str, ip: str) -> threading.Thread:
    """A sign-in attempt on a thread of its own (its own database connection, closed at the end)."""

    def attempt() -> None:
        try:
            results.append(sign_in(password, ip).status_code)
        finally:
            connection.close()

    thread = threading.Thread(target=attempt)
    thread.start()
    return thread


def sign_in(password: str, ip: str, client: Client | None = None):
    client = client or Client()
    return client.post(LOGIN, {"username": "sue", "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def hash_held():
    """An attacker's attempt holding the only general slot until the test ends it; its status."""
    result: list[int] = []
    thread = in_thread(result, "slow-guess", "198.51.100.1")
    assert GatedHasher.entered.wait(timeout=30)
    yield result
    GatedHasher.gate.set()
    thread.join(timeout=60)
    assert result == [200]  # judged at last: a wrong password


@on_postgresql[0]
@on_postgresql[1]
def test_a_flood_gets_busy_at_once_and_nothing_is_counted_or_audited(
    one_slot_and_one_reserved, hash_held, caplog
):
    with caplog.at_level(logging.WARNING, logger="bfluence.signin"):
        responses = [sign_in("wrong", f"198.51.100.{n}") for n in range(2, 7)]
    assert {response.status_code for response in responses} == {503}
    assert responses[0]["Retry-After"] == "5"
    assert "try again in a few seconds" in responses[0].content.decode().lower() or "tente novamente" in (
        responses[0].content.decode().lower()
    )
    assert not AuditEvent.objects.filter(event_type="staff_sign_in_failed").exists()
    assert not AccessAttempt.objects.exists()  # no failure counted against anyone
    assert [record.getMessage() for record in caplog.records].count("staff sign-in refused: busy") == 5


@on_postgresql[0]
@on_postgresql[1]
def test_known_staff_sign_in_through_the_reserved_slot(one_slot_and_one_reserved):
    browser = Client()
    assert sign_in(PASSWORD, "2001:db8:5:1::10", browser).status_code == 302  # a normal day
    assert KNOWN_STAFF_COOKIE in browser.cookies
    signed = AuditEvent.objects.get(event_type="staff_signed_in")
    assert signed.details == {"source_network": "2001:db8:5:1::"}
    remembered = browser.cookies[KNOWN_STAFF_COOKIE].value
    browser.logout()  # signed out: the session no longer vouches for her, the cookie does
    browser.cookies[KNOWN_STAFF_COOKIE] = remembered

    held: list[int] = []
    attacker = in_thread(held, "slow-guess", "198.51.100.1")
    try:
        assert GatedHasher.entered.wait(timeout=30)
        # An outsider finds no slot; sue's browser (its cookie) from anywhere, and sue from her office's
        # /64 without the cookie, take the reserved one.
        assert sign_in(PASSWORD, "198.51.100.9").status_code == 503
        assert sign_in(PASSWORD, "203.0.113.50", browser).status_code == 302
        assert sign_in(PASSWORD, "2001:db8:5:1::99").status_code == 302
        # A forged or foreign cookie buys nothing.
        stranger = Client()
        stranger.cookies[KNOWN_STAFF_COOKIE] = "sue"
        assert sign_in(PASSWORD, "198.51.100.10", stranger).status_code == 503
    finally:
        GatedHasher.gate.set()
        attacker.join(timeout=60)
    assert held == [200]
    # The slot is free again for everyone.
    assert sign_in("wrong", "198.51.100.11").status_code == 200


def test_the_workers_of_one_gunicorn_server_share_the_slots(tmp_path):
    """Under gunicorn each sync worker serves one request at a time, so a per-process cap would bind
    nothing: gunicorn.conf.py gives its workers one directory of lock files. Real processes here."""
    slots = HashSlots(general=2, reserved=1, directory=str(tmp_path))
    fork = multiprocessing.get_context("fork")

    def in_another_worker(known: bool) -> str:
        answers = fork.Queue()

        def attempt() -> None:
            try:
                with HashSlots(general=2, reserved=1, directory=str(tmp_path)).slot(lambda: known):
                    answers.put("hashed")
            except SignInBusy:
                answers.put("busy")

        worker = fork.Process(target=attempt)
        worker.start()
        worker.join(timeout=30)
        return answers.get(timeout=5)

    with slots.slot(lambda: False), slots.slot(lambda: False):  # this worker holds both general slots
        assert in_another_worker(known=False) == "busy"
        assert in_another_worker(known=True) == "hashed"  # the reserved one
        # With the reserved one taken too, nobody else gets a slot.
        with slots.slot(lambda: True), pytest.raises(SignInBusy), slots.slot(lambda: True):
            pass
    assert in_another_worker(known=False) == "hashed"  # released, for every worker


def test_gunicorn_gives_its_workers_a_slots_directory():
    from pathlib import Path

    config = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
    assert 'os.environ["STAFF_SIGNIN_SLOTS_DIR"]' in config.read_text()
