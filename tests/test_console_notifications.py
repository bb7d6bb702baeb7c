"""The console's notification screens (SPEC §2.10, §5a): staff see each community's notifications and
their delivery state and can send one again; security sets the contacts, and a new webhook signing
secret is shown once."""

import re
from html import unescape as html_unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from notifications.models import Notification, SecurityContacts
from notifications.services import notifications_deliver_due, security_contacts_set
from tests.conftest import TEST_ACTOR
from tests.test_admin import staff
from tokens.services import community_deactivate

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_client(client):
    client.force_login(staff("sam-support", "support"))
    return client


@pytest.fixture
def security_client(client):
    client.force_login(staff("sue-security", "security"))
    return client


@pytest.fixture
def told(acme, settings):
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    security_contacts_set(
        community=acme.community,
        actor=TEST_ACTOR,
        emails=[("sec@acme.example", "en")],
        webhook_url="https://127.0.0.1:9/down",  # nothing listens there
    )
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    notifications_deliver_due()
    return acme


def test_support_sees_notifications_and_their_state(support_client, told):
    page = support_client.get(reverse("admin:notifications_notification_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "community.deactivated" in text
    assert "sec@acme.example" in text
    assert "entregue" in text  # the mail (console backend in tests) went out
    assert "pendente" in text  # the webhook did not, and is retried
    assert "resend-one" in text


def test_resend_asks_first_and_is_audited(support_client, told):
    webhook = Notification.objects.get(channel="webhook")
    url = reverse("admin:notifications_notification_resend", args=[webhook.pk])
    asked = support_client.get(url)
    assert asked.status_code == 200 and "id_reason" in asked.content.decode()
    assert not AuditEvent.objects.filter(event_type="notification_resent").exists()
    response = support_client.post(url, {"reason": "partner fixed its receiver", "confirm": "1"})
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.next_attempt_at <= timezone.now()
    resent = AuditEvent.objects.get(event_type="notification_resent")
    assert (resent.actor, resent.details["reason"]) == ("sam-support", "partner fixed its receiver")


def test_security_sets_contacts_and_sees_the_webhook_secret_once(security_client, acme, settings):
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    response = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {
            "community": acme.community.pk,
            "email_lines": "seg@acme.example\nsec@acme.example:en",
            "webhook_url": "https://127.0.0.1:9/hook",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    once = security_client.get(response["Location"])
    secrets_shown = re.findall(r"whsec_[A-Za-z0-9+/=]{40,}", once.content.decode())
    assert len(set(secrets_shown)) == 1
    assert "whsec_" not in security_client.get(response["Location"]).content.decode()
    contacts = SecurityContacts.objects.get(community=acme.community)
    assert contacts.webhook_secret == secrets_shown[0]
    change_page = security_client.get(
        reverse("admin:notifications_securitycontacts_change", args=[contacts.pk])
    )
    assert change_page.status_code == 200
    assert "whsec_" not in change_page.content.decode().replace(contacts.webhook_secret_hint, "")
    assert contacts.webhook_secret not in change_page.content.decode()
    assert [entry["language"] for entry in contacts.emails] == ["pt-br", "en"]


def test_a_private_webhook_is_refused_in_the_console(security_client, acme):
    response = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {"community": acme.community.pk, "email_lines": "", "webhook_url": "https://10.0.0.5/hook"},
        follow=True,
    )
    assert "endereço público" in response.content.decode()
    assert not SecurityContacts.objects.filter(community=acme.community).exclude(webhook_url="").exists()


def test_support_cannot_set_contacts(support_client, acme):
    response = support_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {"community": acme.community.pk, "email_lines": "x@y.example", "webhook_url": ""},
    )
    assert response.status_code == 403


# --- the contacts form after a mistake: as typed, every wrong line named, "e-mail", a way back --------


def _visible_text(page) -> str:
    """What a person reads on the page: no tags, no attributes (``email_lines`` is a field name)."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page.content.decode(), flags=re.S)
    return html_unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _errors(page) -> str:
    return " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page.content.decode(), re.S))


def _nothing_written(community) -> bool:
    return (
        not SecurityContacts.objects.filter(community=community).exists()
        and not AuditEvent.objects.filter(event_type="security_contacts_set").exists()
    )


def test_a_wrong_address_brings_the_form_back_as_typed_naming_its_line(security_client, acme, settings):
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    typed = "seg@acme.example\nnot-an-address:en"
    response = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {"community": acme.community.pk, "email_lines": typed, "webhook_url": "https://127.0.0.1:9/hook"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert f">\n{typed}</textarea>" in html_unescape(text) or f">{typed}</textarea>" in html_unescape(text)
    assert 'value="https://127.0.0.1:9/hook"' in text
    assert f'<option value="{acme.community.pk}" selected>' in text
    assert "Linha 2: “not-an-address” não é um endereço de e-mail válido." in html_unescape(_errors(response))
    assert "seg@acme.example" not in _errors(response)
    assert _nothing_written(acme.community)


def test_every_wrong_line_is_named_at_once(security_client, acme):
    typed = "bad-one\n\nok@acme.example\nsec@acme.example:fr"
    response = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {"community": acme.community.pk, "email_lines": typed, "webhook_url": ""},
    )
    assert response.status_code == 200
    errors = html_unescape(_errors(response))
    assert "Linha 1: “bad-one” não é um endereço de e-mail válido." in errors
    assert "Linha 4: “sec@acme.example” tem um idioma desconhecido, “fr”: use pt-br ou en." in errors
    assert "ok@acme.example" not in errors
    assert typed in html_unescape(response.content.decode())
    assert _nothing_written(acme.community)


def test_a_wrong_line_on_the_change_form_keeps_the_saved_contacts(security_client, acme):
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])
    contacts = SecurityContacts.objects.get(community=acme.community)
    audited = AuditEvent.objects.count()
    response = security_client.post(
        reverse("admin:notifications_securitycontacts_change", args=[contacts.pk]),
        {"email_lines": "new@acme.example\nnope@", "webhook_url": ""},
    )
    assert response.status_code == 200
    assert "Linha 2: “nope@”" in html_unescape(_errors(response))
    assert "new@acme.example\nnope@" in html_unescape(response.content.decode())
    contacts.refresh_from_db()
    assert contacts.emails == [{"address": "sec@acme.example", "language": "en"}]
    assert AuditEvent.objects.count() == audited


def test_a_private_webhook_brings_the_form_back_as_typed(security_client, acme):
    response = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {
            "community": acme.community.pk,
            "email_lines": "sec@acme.example",
            "webhook_url": "https://10.0.0.5/x",
        },
    )
    assert response.status_code == 200
    assert "endereço público" in _errors(response)
    assert "sec@acme.example</textarea>" in response.content.decode()
    assert _nothing_written(acme.community)


def test_the_contacts_pages_say_e_mail_never_email(security_client, acme):
    wrong = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {
            "community": acme.community.pk,
            "email_lines": "".join(f"a{n}@acme.example\n" for n in range(11)),
            "webhook_url": "",
        },
    )
    one_wrong = security_client.post(
        reverse("admin:notifications_securitycontacts_add"),
        {"community": acme.community.pk, "email_lines": "x", "webhook_url": ""},
    )
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])
    contacts = SecurityContacts.objects.get(community=acme.community)
    pages = [
        security_client.get(reverse("admin:notifications_securitycontacts_add")),
        wrong,
        one_wrong,
        security_client.get(reverse("admin:notifications_securitycontacts_changelist")),
        security_client.get(reverse("admin:notifications_securitycontacts_change", args=[contacts.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        text = _visible_text(page)
        assert "e-mail" in text
        assert not re.search(r"(?<!e-)\bemails?\b", text, re.IGNORECASE), text
    assert "No máximo 10 endereços de e-mail" in _visible_text(wrong)


def test_the_contacts_form_has_a_cancel_link_back_to_the_list(security_client, acme):
    changelist = reverse("admin:notifications_securitycontacts_changelist")
    add = reverse("admin:notifications_securitycontacts_add")
    cancel = f'<a href="{changelist}" class="button cancel-link">Cancelar</a>'
    assert cancel in security_client.get(add).content.decode()
    after_a_mistake = security_client.post(add, {"community": acme.community.pk, "email_lines": "x"})
    assert cancel in after_a_mistake.content.decode()
    filtered = security_client.get(add, {"_changelist_filters": "q=acme"}).content.decode()
    assert f'<a href="{changelist}?q=acme" class="button cancel-link">Cancelar</a>' in filtered
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])
    contacts = SecurityContacts.objects.get(community=acme.community)
    change = security_client.get(reverse("admin:notifications_securitycontacts_change", args=[contacts.pk]))
    assert cancel in change.content.decode()


def test_a_read_only_contacts_page_offers_close_not_cancel(support_client, acme):
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")])
    contacts = SecurityContacts.objects.get(community=acme.community)
    page = support_client.get(reverse("admin:notifications_securitycontacts_change", args=[contacts.pk]))
    assert page.status_code == 200
    assert "Fechar" in page.content.decode()
    assert "cancel-link" not in page.content.decode()
