"""The add/change/view/delete links Django's admin puts beside a related field: none where staff must not
create or edit the related record from there (a community, from a request, a member or contacts), and,
where some remain, titles that agree with a feminine model as well as a masculine one (Django's pt_BR
"Alterar %(model)s selecionado" reads "Alterar comunidade selecionado")."""

import re

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django_otp.plugins.otp_static.models import StaticDevice
from rest_framework.test import APIClient

from clients.services.keys import client_key_add
from clients.services.policy import PolicyChange, client_auth_policy_set
from notifications.services.contacts import security_contacts_set
from tests.conftest import TEST_ACTOR, issue_token, make_community, verified_device
from tests.keyfactory import private_key, public_pem
from tests.test_admin import url
from tests.test_console_safety import login
from tokens.services import revocation_request_open

pytestmark = pytest.mark.django_db

# Django's pt_BR titles ("Alterar %(model)s selecionado", "Adicionar outro %(model)s", …) agree with a
# masculine model only; "Visualizar %(model)s selecionados" with none.
DJANGO_TITLE = re.compile(
    r'title="(?:(?:Alterar|Remover|Visualizar) (?!o item )|Adicionar outro (?!item ))[^"]*"'
)
RELATED_LINK = re.compile(r'<a class="related-widget-wrapper-link (\w+)-related"[^>]*?title="([^"]*)"', re.S)
NEUTRAL_TITLE = {
    "change": "Alterar o item selecionado ({})",
    "add": "Adicionar outro item ({})",
    "delete": "Excluir o item selecionado ({})",
    "view": "Visualizar o item selecionado ({})",
}


def test_opening_a_revocation_request_offers_no_link_to_create_or_edit_a_community(client):
    login(client, "sue-security", "security")
    make_community("acme")
    page = client.get(url("tokens_revocationrequest_add")).content.decode()
    assert 'name="community"' in page
    assert "related-widget-wrapper-link" not in page
    for wrong in ("Alterar comunidade selecionado", "Adicionar outro comunidade", "comunidade selecionados"):
        assert wrong not in page


@pytest.mark.parametrize(
    "page", ["tokens_revocationrequest_add", "communities_member_add", "notifications_securitycontacts_add"]
)
def test_no_form_that_picks_a_community_links_to_the_community_admin(admin_client, page):
    make_community("acme")
    content = admin_client.get(url(page)).content.decode()
    assert 'name="community"' in content
    assert "related-widget-wrapper-link" not in content


@pytest.fixture
def one_of_each(admin_user):
    """At least one record of every model in the console, so each change page has something to show."""
    acme = make_community("acme", members={"123": 10})
    client_key_add(community=acme.community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(methods=["client_secret"]), actor=TEST_ACTOR
    )
    security_contacts_set(community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "pt-br")])
    issue_token(APIClient(), acme)
    globex = make_community("globex")
    revocation_request_open(community=globex.community, reason="leaked", actor=TEST_ACTOR)
    verified_device(admin_user)
    StaticDevice.objects.create(user=admin_user, name="backup codes", confirmed=True)


def console_form_pages() -> list[str]:
    """Every add page, and the change page of one record of each model, in the console's admin."""
    pages = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        try:
            pages.append(reverse("admin:{}_{}_add".format(*info)))
        except NoReverseMatch:
            pass
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return pages


def test_every_related_link_left_in_the_console_reads_right_for_any_model(admin_client, one_of_each):
    with translation.override("pt-br"):
        names = [str(model._meta.verbose_name) for model in admin.site._registry]
    # "comunidade selecionado", "outro comunidade", "chave pública do parceiro selecionado"…
    wrong_phrases = [phrase for name in names for phrase in (f"{name} selecionado", f"outro {name}")]
    opened, titles = 0, []
    for page in console_form_pages():
        response = admin_client.get(page)
        if response.status_code != 200:  # an add page the model does not offer (403)
            continue
        opened += 1
        content = response.content.decode()
        assert not DJANGO_TITLE.search(content), (page, DJANGO_TITLE.search(content).group(0))
        for wrong in wrong_phrases:
            assert wrong not in content, (page, wrong)
        for kind, title in RELATED_LINK.findall(content):
            assert re.fullmatch(re.escape(NEUTRAL_TITLE[kind]).replace(r"\{\}", r"[^()]+"), title), (
                page,
                title,
            )
            titles.append(title)
    assert opened >= 20  # every model's change page, and the add pages staff have
    assert titles  # some links stay (a user's groups): their titles were checked above
