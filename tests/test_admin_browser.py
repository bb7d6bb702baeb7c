"""The staff workflow end to end in a real browser, against a live server, with the partner API in between."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.db import connections
from playwright.sync_api import expect

from communities.models import Community
from communities.services import member_set_bflus
from tests.browser import chromium_page, needs_chromium, pass_second_factor, screenshot, staff_groups  # noqa: F401
from tests.conftest import TEST_ACTOR
from tests.stack import http

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
]


def partner_token(base: str, client_id: str, secret: str) -> tuple[int, dict]:
    return http("POST", f"{base}/auth/token", {"client_id": client_id, "client_secret": secret})


def test_security_user_onboards_revokes_and_rotates_in_the_browser(live_server, tmp_path):
    base = live_server.url
    user = User.objects.create_user("sue", password="a-long-password-for-sue", is_staff=True)
    user.groups.add(Group.objects.get(name="security"))

    with chromium_page() as page:
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "sue")
        page.fill("#id_password", "a-long-password-for-sue")
        page.click("input[type=submit]")
        pass_second_factor(page, "sue")
        expect(page.locator("#user-tools")).to_be_visible()

        # Onboard: the secret is read from the one-time page.
        page.goto(f"{base}/admin/communities/community/add/")
        page.fill("#id_client_id", "browserco")
        page.fill("#id_name", "Browser Co")
        page.check("input[name=permissions][value='bflus:read']")
        page.click("input[type=submit]")
        secret = page.inner_text("#client-secret").strip()
        assert re.fullmatch(r"bfl_sk_[A-Za-z0-9]{49}", secret)
        expect(page.locator("#secret-warning")).to_be_visible()
        community = Community.objects.get(client_id="browserco")
        member_set_bflus(community=community, reference="123", bflus=700, actor=TEST_ACTOR)
        # Database work done under Playwright's event loop gets its own connection: close it here, or it
        # would outlive the test and keep the test database from being dropped.
        connections.close_all()

        # The partner gets a token over HTTP and uses it.
        status, body = partner_token(base, "browserco", secret)
        assert status == 200
        token = body["access_token"]
        bflus_url = f"{base}/communities/hub/client/123/get-bflus"
        status, body = http("GET", bflus_url, token=token)
        assert (status, body["bflus"]) == (200, 700)

        # Staff revoke that token in the issued-tokens list.
        page.goto(f"{base}/admin/tokens/issuedtoken/?q=")
        page.check("input.action-select")
        page.select_option("select[name=action]", "revoke_selected")
        page.click("button[name=index]")
        page.fill("#id_reason", "revoked from the browser test")
        page.click("input[name=confirm]")
        expect(page.locator(".messagelist .success")).to_be_visible()
        status, body = http("GET", bflus_url, token=token)
        assert (status, body["error"]) == (401, "invalid_token")

        # Rotate the secret: the new one is shown once, the old one is refused.
        page.goto(f"{base}/admin/communities/community/{community.pk}/change/")
        page.click("#rotate-secret")
        page.fill("#id_reason", "rotina anual")
        screenshot(page, "rotate-secret", tmp_path)  # the default: 24 h of grace, and until when
        page.select_option("#id_grace", "0s")
        page.click("input[type=submit]")
        new_secret = page.inner_text("#client-secret").strip()
        assert new_secret != secret

    status, body = partner_token(base, "browserco", secret)
    assert (status, body["error"]) == (401, "invalid_client")
    assert partner_token(base, "browserco", new_secret)[0] == 200
