"""The notifications screen in a real browser: each community's notifications with their delivery
state, and staff sending one again (docs/screenshots/notifications.png)."""

from importlib import import_module

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connections
from playwright.sync_api import expect

from communities.services import community_reactivate
from notifications.models import Notification
from notifications.services import notifications_deliver_due, security_contacts_set
from tests.browser import (  # noqa: F401
    chromium_page,
    needs_chromium,
    pass_second_factor,
    screenshot,
    staff_groups,
)
from tests.conftest import TEST_ACTOR, make_community
from tokens.services import community_deactivate, community_rotate_secret

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
]


def test_staff_see_delivery_states_and_resend(live_server, tmp_path, settings):
    grants = import_module("notifications.migrations.0002_staff_permissions").GRANTS
    for name, codes in grants.items():
        group = Group.objects.get(name=name)
        for code in codes:
            group.permissions.add(Permission.objects.get(codename=code.split(".")[1]))
    user = User.objects.create_user("sam", password="a-long-password-for-sam", is_staff=True)
    user.groups.add(Group.objects.get(name="support"))
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    acme = make_community("acme")
    security_contacts_set(
        community=acme.community,
        actor=TEST_ACTOR,
        emails=[("seguranca@acme.example", "pt-br")],
        webhook_url="https://127.0.0.1:9/bfluence-webhook",  # down: retried
    )
    community_rotate_secret(community=acme.community, actor=TEST_ACTOR)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract paused")
    community_reactivate(community=acme.community, actor=TEST_ACTOR)
    notifications_deliver_due()
    connections.close_all()

    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "sam")
        page.fill("#id_password", "a-long-password-for-sam")
        page.click("input[type=submit]")
        pass_second_factor(page, "sam")  # every staff account signs in with its second factor
        expect(page.locator("#content")).to_be_visible()
        assert "/second-factor/" not in page.url
        page.goto(f"{live_server.url}/admin/notifications/notification/")
        expect(page.locator("#result_list")).to_be_visible()
        expect(page.locator(".state-ok").first).to_be_visible()
        expect(page.locator(".state-pending").first).to_be_visible()
        screenshot(page, "notifications", tmp_path)
        page.locator("a.resend-one").first.click()
        page.fill("#id_reason", "partner fixed its receiver")
        page.click("input[name=confirm]")
        expect(page.locator(".messagelist .success")).to_be_visible()
    connections.close_all()
    assert Notification.objects.filter(status="pending").count() >= 3


def _grant_notification_permissions() -> None:
    """The notifications migration's grants: the staff_groups fixture puts back only the older ones."""
    for name, codes in import_module("notifications.migrations.0002_staff_permissions").GRANTS.items():
        group = Group.objects.get(name=name)
        for code in codes:
            group.permissions.add(Permission.objects.get(codename=code.split(".")[1]))


def test_wrong_contact_lines_come_back_as_typed_each_named_and_nothing_is_saved(live_server, tmp_path):
    from audit.models import AuditEvent
    from notifications.models import SecurityContacts

    _grant_notification_permissions()
    user = User.objects.create_user("sue", password="a-long-password-for-sue", is_staff=True)
    user.groups.add(Group.objects.get(name="security"))
    acme = make_community("acme")
    connections.close_all()
    typed = "seg@acme.example\nnot-an-address\nnope@:en"

    with chromium_page() as page:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "sue")
        page.fill("#id_password", "a-long-password-for-sue")
        page.click("input[type=submit]")
        pass_second_factor(page, "sue")
        expect(page.locator("#content")).to_be_visible()
        page.goto(f"{live_server.url}/admin/notifications/securitycontacts/add/")
        page.select_option("#id_community", str(acme.community.pk))
        page.fill("#id_email_lines", typed)
        page.click("input[name=_save]")

        errors = page.locator(".errorlist")
        expect(errors.first).to_be_visible()
        assert "/securitycontacts/add/" in page.url  # the form again, not the list
        expect(page.locator("#id_email_lines")).to_have_value(typed)
        said = " ".join(errors.all_inner_texts())
        assert "Linha 2: “not-an-address” não é um endereço de e-mail válido." in said
        assert "Linha 3: “nope@” não é um endereço de e-mail válido." in said
        assert "seg@acme.example" not in said  # the good line is not blamed
        assert "email" not in page.inner_text("#content").replace("email_lines", "")  # "e-mail", always
        screenshot(page, "security-contacts-errors", tmp_path)

        page.click("a.cancel-link:has-text('Cancelar')")
        expect(page.locator("#changelist")).to_be_visible()
        assert page.url.endswith("/admin/notifications/securitycontacts/")
    assert not SecurityContacts.objects.exists()
    assert not AuditEvent.objects.filter(event_type="security_contacts_set").exists()
    connections.close_all()
