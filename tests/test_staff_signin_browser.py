"""Staff sign-in lockout in a real browser (SPEC §5a): after the failure limit, the console shows its
own page — in Portuguese, in the console's layout — and the right password is refused until it ends."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.browser import chromium_page, needs_chromium, screenshot

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-password-for-sue"


def test_repeated_wrong_passwords_lead_to_the_console_lockout_page(live_server, tmp_path, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_user("sue", password=PASSWORD, is_staff=True, is_superuser=True)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)

    with chromium_page() as page:
        for attempt in range(settings.AXES_FAILURE_LIMIT):
            page.goto(f"{live_server.url}/admin/login/")
            page.fill("#id_username", "sue")
            page.fill("#id_password", f"wrong-{attempt}")
            page.click("input[type=submit]")
        expect(page.locator("h1")).to_have_text("Entrada bloqueada por enquanto")
        expect(page.locator(".errornote")).to_contain_text(f"Tente de novo em {minutes} minutos")
        expect(page.locator("#site-name")).to_be_visible()  # the console's header, not an API error
        screenshot(page, "signin-locked", tmp_path)

        page.click("text=Voltar para a página de entrada")
        page.fill("#id_username", "sue")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("h1")).to_have_text("Entrada bloqueada por enquanto")
        expect(page.locator("#user-tools")).to_have_count(0)
