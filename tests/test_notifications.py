"""Partner security notifications (SPEC §2.10): contacts and their webhook rule, every event recorded
with its cause, mail through a real SMTP server, signed webhooks to a real HTTPS receiver, retries with
backoff, and a failed delivery that never touches the action."""

import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import Actor
from clients.services import PolicyChange, client_auth_policy_set, client_key_add, client_key_retire
from communities.services import community_reactivate
from notifications.models import Notification
from notifications.services import notification_resend, notifications_deliver_due, security_contacts_set
from tests.conftest import TEST_ACTOR, issue_token
from tests.keyfactory import private_key, public_pem
from tests.receivers import SmtpServer, WebhookReceiver
from tests.test_admin import staff
from tokens.models import RevocationRequest
from tokens.services import community_deactivate, community_rotate_secret, revocation_request_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield server
    server.stop()


@pytest.fixture
def receiver(settings):
    receiver = WebhookReceiver()
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]  # a loopback receiver, as the tests need
    settings.WEBHOOK_CA_BUNDLE = receiver.cert  # its self-signed certificate, trusted for webhooks only
    yield receiver
    receiver.close()


def with_webhook(created, receiver) -> None:
    change = security_contacts_set(community=created.community, actor=TEST_ACTOR, webhook_url=receiver.url)
    receiver.secret = change.webhook_secret


def deliver() -> dict:
    out = io.StringIO()
    call_command("deliver_notifications", "--once", "--json", stdout=out)
    return json.loads(out.getvalue())


# --- contacts ------------------------------------------------------------------------------------------


def test_set_security_contacts_prints_the_webhook_secret_once(acme, settings):
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    out = io.StringIO()
    call_command(
        "set_security_contacts",
        "acme",
        "--email",
        "sec@acme.example:en,ops@acme.example",
        "--webhook-url",
        "https://127.0.0.1:9/hook",
        "--json",
        stdout=out,
    )
    first = json.loads(out.getvalue())
    assert first["emails"] == ["sec@acme.example:en", "ops@acme.example:pt-br"]
    assert first["webhook_url"] == "https://127.0.0.1:9/hook"
    assert first["webhook_secret"].startswith("whsec_")
    out = io.StringIO()
    call_command("set_security_contacts", "acme", "--email", "sec@acme.example", "--json", stdout=out)
    again = json.loads(out.getvalue())
    assert "webhook_secret" not in again
    assert again["webhook_url"] == "https://127.0.0.1:9/hook"
    assert AuditEvent.objects.filter(event_type="security_contacts_set").count() == 2
    assert first["webhook_secret"] not in json.dumps(
        list(AuditEvent.objects.values_list("details", flat=True))
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not HTTPS
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.5/hook",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata, link-local
        "https://100.100.100.200/",  # another cloud's metadata
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://user:pw@example.com/hook",
        "ftp://example.com/hook",
        "https:///nohost",
    ],
)
def test_a_webhook_must_be_https_to_a_public_address(acme, url):
    with pytest.raises(ValidationError):
        security_contacts_set(community=acme.community, actor=TEST_ACTOR, webhook_url=url)
    with pytest.raises(CommandError):
        call_command("set_security_contacts", "acme", "--webhook-url", url, stdout=io.StringIO())


def test_the_rule_is_checked_again_at_delivery(acme, receiver, settings):
    with_webhook(acme, receiver)
    settings.WEBHOOK_INSECURE_HOSTS = []  # as if the host now resolved to our own network
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert deliver()["failed"] == 1
    assert receiver.received == [] and not receiver.arrived.is_set()
    assert "endereço público" in Notification.objects.get().last_error  # staff read pt-BR


def test_bad_contacts_are_refused(acme):
    for emails in ([("not-an-address", "en")], [("a@b.example", "fr")]):
        with pytest.raises(ValidationError):
            security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=emails)


# --- events are recorded with their cause ------------------------------------------------------------


def test_every_credential_change_is_recorded_for_the_partner(api, acme):
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])
    key = client_key_add(community=acme.community, key_text=public_pem(private_key()), actor=TEST_ACTOR)
    client_key_retire(community=acme.community, kid=key.kid, actor=TEST_ACTOR)
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="optional"), actor=TEST_ACTOR)
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=2))
    request = revocation_request_open(community=acme.community, reason="breach", actor=TEST_ACTOR)
    from tokens.services import revocation_request_handle

    revocation_request_handle(revocation=request, staff_user=staff("sue-security", "security"))
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    community_reactivate(community=acme.community, actor=TEST_ACTOR)
    events = list(Notification.objects.order_by("id").values_list("event_type", flat=True))
    assert events == [
        "key.added",
        "key.retired",
        "policy.changed",
        "secret.rotated",
        "secret.expiring",
        "secrets.suspended",
        "secret.rotated",  # the request's new secret
        "revocation_request.completed",
        "community.deactivated",
        "community.reactivated",
    ]
    # The second rotation withdrew the first one's "expiring" notice: that secret is long gone.
    assert Notification.objects.get(event_type="secret.expiring").status == "withdrawn"


def test_a_notification_rolls_back_with_its_action(acme):
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])

    def rotate_then_fail() -> None:
        with transaction.atomic():
            community_rotate_secret(community=acme.community, actor=TEST_ACTOR)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        rotate_then_fail()
    assert not Notification.objects.exists()


def test_no_contacts_no_notification(acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert not Notification.objects.exists()


# --- mail -------------------------------------------------------------------------------------------


def test_mail_is_delivered_through_smtp_in_each_language(acme, smtp):
    security_contacts_set(
        community=acme.community,
        actor=TEST_ACTOR,
        emails=[("seg@acme.example", "pt-br"), ("sec@acme.example", "en")],
    )
    rotation = community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=3))
    assert deliver() == {"delivered": 2, "failed": 0, "pending": 2}  # the two "expiring" wait 2 days
    by_address = {message["To"]: message for message in smtp.messages}
    portuguese, english = by_address["seg@acme.example"], by_address["sec@acme.example"]
    assert english["Subject"] == "[Bfluence] Your client secret was rotated"
    assert portuguese["Subject"] == "[Bfluence] O segredo do cliente foi trocado"
    for message in (portuguese, english):
        assert message.is_multipart()
        kinds = [part.get_content_type() for part in message.walk()]
        assert "text/plain" in kinds and "text/html" in kinds
        assert rotation.client_secret not in message.as_string()
        assert acme.client_secret not in message.as_string()
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        assert deliver()["delivered"] == 2
    assert Notification.objects.filter(status="delivered").count() == 4


# --- webhooks ----------------------------------------------------------------------------------------


def test_a_webhook_is_signed_per_standard_webhooks(api, acme, receiver):
    with_webhook(acme, receiver)
    issue_token(api, acme)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    assert deliver()["delivered"] == 1
    [(webhook_id, payload)] = receiver.received
    notification = Notification.objects.get()
    assert webhook_id == f"msg_{notification.event_id.hex}"
    assert payload["type"] == "community.deactivated"
    assert payload["data"]["client_id"] == "acme"
    assert payload["data"]["tokens_revoked"] == 1
    assert payload["data"]["what_to_do"]
    assert payload["timestamp"] == notification.created_at.isoformat()
    assert receiver.refused == 0


def test_a_receiver_that_is_down_gets_it_later(acme, receiver):
    with_webhook(acme, receiver)
    receiver.stop()
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert deliver() == {"delivered": 0, "failed": 1, "pending": 1}
    row = Notification.objects.get()
    assert row.attempts == 1 and row.last_error
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
    receiver.start()
    assert deliver()["delivered"] == 0  # not due yet: the backoff holds
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert deliver()["delivered"] == 1
    assert len(receiver.received) == 1
    assert Notification.objects.get().status == "delivered"


def test_retries_back_off_and_give_up_after_the_horizon(acme, receiver):
    with_webhook(acme, receiver)
    receiver.stop()
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    start = timezone.now()
    gaps = []
    moment = start
    for _ in range(8):
        with time_machine.travel(moment, tick=False):
            deliver()
        row = Notification.objects.get()
        gaps.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at + timedelta(seconds=1)
    assert gaps[0] == timedelta(seconds=30) and gaps[1] == timedelta(seconds=60)
    assert gaps[-1] == timedelta(hours=1)
    with time_machine.travel(start + timedelta(hours=49)):
        deliver()
    assert Notification.objects.get().status == "failed"


def test_a_failed_delivery_does_not_touch_the_action(api, acme, receiver):
    with_webhook(acme, receiver)
    receiver.status = 500
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert deliver()["failed"] == 1
    acme.community.refresh_from_db()
    assert acme.community.is_active is False


def test_staff_resend_delivers_again_with_the_same_event_id(acme, receiver):
    with_webhook(acme, receiver)
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    deliver()
    notification_resend(notification=Notification.objects.get(), actor=Actor.command("tests"))
    deliver()
    assert [webhook_id for webhook_id, _payload in receiver.received] == [receiver.received[0][0]] * 2
    assert AuditEvent.objects.filter(event_type="notification_resent").count() == 1


def test_readyz_reports_the_outbox(api, acme, receiver):
    with_webhook(acme, receiver)
    receiver.stop()
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    notifications_deliver_due()
    body = api.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["notifications"]["pending"] == 1
    assert body["notifications"]["retrying"] == 1


def test_a_revocation_request_notice_names_the_request(acme):
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])
    request = revocation_request_open(community=acme.community, reason="breach", actor=TEST_ACTOR)
    told = Notification.objects.get()
    assert told.data["request_id"] == request.pk == RevocationRequest.objects.get().pk
