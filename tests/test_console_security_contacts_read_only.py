"""Support may only read a community's security contacts (pt-BR, Django's test client): the read-only page
shows the saved addresses, each with its language, and the webhook URL, with pt-BR labels, exactly what
security sees saved; never the webhook signing secret, never "None" (support would tell a partner no
contacts are set). The list's "updated at" column agrees with "lista": "Atualizada em"."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from notifications.models import SecurityContacts
from notifications.services import security_contacts_set
from tests.conftest import TEST_ACTOR
from tests.test_admin import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def saved(acme, settings):
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    change = security_contacts_set(
        community=acme.community,
        actor=TEST_ACTOR,
        emails=[("sec@acme.example", "en"), ("seg@acme.example", "pt-br")],
        webhook_url="https://127.0.0.1:9/hook",
    )
    return change


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _page(client, contacts: SecurityContacts, group: str):
    user = User.objects.filter(username=f"someone-{group}").first() or staff(f"someone-{group}", group)
    client.force_login(user)
    page = client.get(reverse("admin:notifications_securitycontacts_change", args=[contacts.pk]))
    assert page.status_code == 200
    return page.content.decode()


def _form(html: str) -> str:
    return _text(html.split('id="content-main"', 1)[1].split('<div class="submit-row"', 1)[0])


def test_support_sees_the_saved_contacts_in_pt_br(client, saved):
    html = _page(client, saved.contacts, "support")
    form = _form(html)
    assert "sec@acme.example (en)" in form
    assert "seg@acme.example (pt-br)" in form
    assert "https://127.0.0.1:9/hook" in form
    assert "Endereços de e-mail" in form
    assert "URL do webhook" in form
    assert "None" not in form
    for english in ("Email lines", "New webhook secret", "Webhook", "Community", "Updated"):
        assert english not in form
    assert saved.webhook_secret not in html
    assert saved.webhook_secret[10:20] not in html  # nothing past the hint's few characters


def test_support_sees_the_same_contacts_security_sees_saved(client, saved):
    security_html = _page(client, saved.contacts, "security")  # the lines to edit, the URL in its input
    support_form = _form(_page(client, saved.contacts, "support"))
    assert "sec@acme.example:en\nseg@acme.example:pt-br</textarea>" in security_html
    assert 'value="https://127.0.0.1:9/hook"' in security_html
    for shown in ("sec@acme.example (en)", "seg@acme.example (pt-br)", "https://127.0.0.1:9/hook"):
        assert shown in support_form


def test_security_edits_the_contacts_with_pt_br_labels(client, saved):
    html = _page(client, saved.contacts, "security")
    form = _form(html)
    assert 'name="email_lines"' in html and 'name="webhook_url"' in html
    assert 'name="new_webhook_secret"' in html
    assert "Endereços de e-mail" in form
    assert "URL do webhook" in form
    assert "None" not in form
    for english in ("Email lines", "New webhook secret", "Webhook", "Community"):
        assert english not in form
    assert saved.webhook_secret not in html


def test_support_sees_no_none_when_no_contacts_are_saved(client, acme):
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[])
    contacts = SecurityContacts.objects.get(community=acme.community)
    form = _form(_page(client, contacts, "support"))
    assert "None" not in form
    assert "Email lines" not in form


def test_the_list_says_updated_at_in_the_feminine(client, saved):
    client.force_login(staff("sam-support", "support"))
    html = client.get(reverse("admin:notifications_securitycontacts_changelist")).content.decode()
    headers = [_text(th) for th in re.findall(r"<th[^>]*scope=\"col\"[^>]*>(.*?)</th>", html, re.S)]
    assert "Atualizada em" in headers
    assert "Atualizado em" not in headers
