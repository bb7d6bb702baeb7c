"""The security contacts pages name one row in the singular (pt-BR, Django's test client): a row is one
community's list of contacts, so the list's footer says "1 lista de contatos de segurança" (not "1 contatos
de segurança") and "2 listas …", and the add, change and view pages say "lista de contatos de segurança";
the menu and the list's title keep the plural the README names, "Contatos de segurança"."""

import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from notifications.models import SecurityContacts
from notifications.services import security_contacts_set
from tests.conftest import TEST_ACTOR
from tests.test_admin import staff

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notifications_securitycontacts_changelist"


@pytest.fixture
def security_client(client):
    client.force_login(staff("sue-security", "security"))
    return client


def _with_contacts(created) -> SecurityContacts:
    security_contacts_set(community=created.community, actor=TEST_ACTOR, emails=[("sec@x.example", "en")])
    return SecurityContacts.objects.get(community=created.community)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _footer(client) -> str:
    html = client.get(reverse(CHANGELIST)).content.decode()
    return _text(html.split('<p class="paginator">', 1)[1].split("</p>", 1)[0])


def _h1(page) -> str:
    return _text(page.content.decode().split("<h1>", 1)[1].split("</h1>", 1)[0])


def test_the_list_footer_says_one_list_of_contacts_in_the_singular(security_client, acme):
    _with_contacts(acme)
    assert _footer(security_client) == "1 lista de contatos de segurança"


def test_the_list_footer_counts_two_lists_of_contacts(security_client, acme, globex):
    _with_contacts(acme)
    _with_contacts(globex)
    assert _footer(security_client) == "2 listas de contatos de segurança"


def test_the_list_and_the_menu_keep_the_plural_name(security_client, acme):
    _with_contacts(acme)
    page = security_client.get(reverse(CHANGELIST))
    assert _h1(page) == "Contatos de segurança"
    assert "Contatos de segurança" in _text(security_client.get(reverse("admin:index")).content.decode())


def test_the_add_page_says_add_a_list_of_contacts(security_client, acme):
    page = security_client.get(reverse("admin:notifications_securitycontacts_add"))
    assert _h1(page) == "Adicionar lista de contatos de segurança"
    assert "<title>Adicionar lista de contatos de segurança |" in page.content.decode()


def test_the_change_page_says_change_the_list_of_contacts(security_client, acme):
    contacts = _with_contacts(acme)
    page = security_client.get(reverse("admin:notifications_securitycontacts_change", args=[contacts.pk]))
    assert _h1(page) == "Modificar lista de contatos de segurança"


def test_the_read_only_page_says_view_the_list_of_contacts(client, acme):
    contacts = _with_contacts(acme)
    client.force_login(staff("sam-support", "support"))
    page = client.get(reverse("admin:notifications_securitycontacts_change", args=[contacts.pk]))
    assert _h1(page) == "Visualizar lista de contatos de segurança"


def test_saving_the_contacts_names_the_list_in_the_singular(security_client, acme):
    contacts = _with_contacts(acme)
    page = reverse("admin:notifications_securitycontacts_change", args=[contacts.pk])
    saved = security_client.post(page, {"email_lines": "seg@acme.example", "webhook_url": ""}, follow=True)
    said = re.sub(r"<[^>]+>", "", " ".join(str(message) for message in get_messages(saved.wsgi_request)))
    assert "Alterações salvas: lista de contatos de segurança “Contatos de segurança de acme”." in said
