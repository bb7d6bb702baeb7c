"""The revocation-request form in Chromium, pt-BR, for a keys-only community: its red box says the new
secret still gets a 401 until the policy accepts secrets again, never "cut off until it is completed"
(docs/screenshots/request-form-new-secret-not-enough.png)."""

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.browser import needs_chromium, screenshot, staff_groups  # noqa: F401
from tests.conftest import make_community
from tests.test_console_browser import sign_in, staff_user, watched_page
from tests.test_console_keys_and_lockout_causes import _keys_only_with_its_key_retired

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
]


def test_the_request_form_says_a_new_secret_is_not_enough_for_a_keys_only_community(live_server, tmp_path):
    base = live_server.url
    staff_user("sam", "support")
    created = make_community("keysonly")
    _keys_only_with_its_key_retired(created)
    connections.close_all()
    with watched_page(1280, 900) as page:
        sign_in(page, base, "sam")
        page.goto(f"{base}/admin/tokens/revocationrequest/add/?community={created.community.pk}")
        warning = page.locator("#form-warning")
        expect(warning).to_be_visible()
        said = " ".join(warning.inner_text().split())
        assert "401" in said
        assert "até que a política volte a aceitar segredos de cliente" in said
        assert "um membro do grupo de segurança muda a política de autenticação de cliente" in said
        assert "fica sem acesso até que" not in said
        assert "a comunidade seja reativada" not in said
        screenshot(page, "request-form-new-secret-not-enough", tmp_path)
