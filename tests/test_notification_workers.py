"""The notification worker as it runs in production: separate processes on the shared test database.
A worker killed in the middle of a delivery loses nothing, and two workers never deliver one
notification twice."""

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from communities.services import community_reactivate
from notifications.models import Notification
from notifications.services import notifications_deliver_due, security_contacts_set
from tests.conftest import TEST_ACTOR, make_community
from tests.receivers import WebhookReceiver
from tests.stack import ROOT, server_env
from tokens.services import community_deactivate

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER'] or ''}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def receiver(settings):
    receiver = WebhookReceiver()
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_CA_BUNDLE = receiver.cert
    yield receiver
    receiver.close()


def worker(receiver, *args: str) -> subprocess.Popen:
    env = server_env(
        DATABASE_URL=_database_url(),
        WEBHOOK_INSECURE_HOSTS="127.0.0.1",
        WEBHOOK_CA_BUNDLE=receiver.cert,
        LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "deliver_notifications", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def community_with_webhook(client_id: str, receiver):
    created = make_community(client_id)
    change = security_contacts_set(community=created.community, actor=TEST_ACTOR, webhook_url=receiver.url)
    receiver.secret = change.webhook_secret
    return created


def test_a_worker_killed_mid_delivery_loses_nothing(receiver):
    created = community_with_webhook("killed", receiver)
    receiver.hang.set()  # accepts the delivery and never answers
    community_deactivate(community=created.community, actor=TEST_ACTOR)
    process = worker(receiver, "--interval", "0.2")
    try:
        assert receiver.arrived.wait(30), (
            process.stderr.read() if process.poll() is not None else "no delivery"
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.claimed_until is not None  # still the dead worker's, until its lease ends
    receiver.hang.clear()
    assert notifications_deliver_due().delivered == 0  # the lease holds: no second delivery meanwhile
    with time_machine.travel(timezone.now() + timedelta(seconds=75)):
        assert Notification.objects.filter(claimed_until__lt=timezone.now()).count() == 1  # it lapses
    # The lease's 71 s, skipped for the restarted worker process (time-machine cannot reach into it).
    Notification.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    restarted = worker(receiver, "--once", "--json")
    out, err = restarted.communicate(timeout=60)
    assert json.loads(out) == {"delivered": 1, "failed": 0, "pending": 0}, err
    assert Notification.objects.get().status == "delivered"
    assert [payload["type"] for _id, payload in receiver.received] == ["community.deactivated"]


def test_two_workers_never_deliver_one_notification_twice(receiver):
    created = community_with_webhook("busy", receiver)
    for _ in range(15):
        community_deactivate(community=created.community, actor=TEST_ACTOR)
        community_reactivate(community=created.community, actor=TEST_ACTOR)
    assert Notification.objects.count() == 30
    first, second = worker(receiver, "--once", "--json"), worker(receiver, "--once", "--json")
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    runs = [json.loads(out) for out, _err in outputs]
    assert sum(run["delivered"] for run in runs) == 30, outputs
    ids = [webhook_id for webhook_id, _payload in receiver.received]
    assert len(ids) == len(set(ids)) == 30
    assert receiver.refused == 0
    assert not Notification.objects.exclude(status="delivered").exists()


def test_dev_serve_delivers_after_the_commit_without_a_worker(settings):
    """``dev.py serve`` sets NOTIFICATIONS_DELIVER_ON_COMMIT: no worker process, mail on the console."""
    import time

    from django.core import mail

    settings.NOTIFICATIONS_DELIVER_ON_COMMIT = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    created = make_community("devserve")
    security_contacts_set(
        community=created.community, actor=TEST_ACTOR, emails=[("dev@devserve.example", "en")]
    )
    community_deactivate(community=created.community, actor=TEST_ACTOR)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not Notification.objects.filter(status="delivered").exists():
        time.sleep(0.05)
    assert Notification.objects.get().status == "delivered"
    assert [message.to for message in mail.outbox] == [["dev@devserve.example"]]
