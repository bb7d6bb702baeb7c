"""The interactive docs in a real browser, with every request to anything but this machine blocked."""

import pytest
from playwright.sync_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.conftest import make_community

pytestmark = [needs_chromium, pytest.mark.django_db(transaction=True)]
OPERATIONS = [
    "auth-auth_token",
    "auth-auth_revoke",
    "auth-auth_revocation_request",
    "auth-auth_me",
    "communities-get_bflus",
    "operations-healthz",
    "operations-readyz",
]


def test_docs_obtain_a_token_and_call_get_bflus_offline(live_server):
    partner = make_community("docsco", members={"123": 1500})
    outside_requests = []

    with chromium_page() as page:
        page.on("requestfailed", lambda request: outside_requests.append(request.url))
        page.goto(f"{live_server.url}/api/docs/")
        for operation in OPERATIONS:
            expect(page.locator(f"#operations-{operation}")).to_be_visible()

        # Authorize with the client credentials flow: Swagger UI calls POST /auth/token itself.
        page.click("button.authorize")
        modal = page.locator(".modal-ux")
        modal.wait_for()
        modal.locator("#client_id_clientCredentials").fill("docsco")
        modal.locator("#client_secret_clientCredentials").fill(partner.client_secret)
        modal.locator("button[aria-label='Apply given OAuth2 credentials']").click()
        expect(modal.locator("button:has-text('Logout')").last).to_be_visible()  # shown once authorized
        modal.locator("button.btn-done").last.click()

        # Try it out on get-bflus ("Try it out" is on from the start: tryItOutEnabled).
        operation = page.locator("#operations-communities-get_bflus")
        operation.locator(".opblock-summary").click()
        operation.locator("input[placeholder='community']").fill("hub")
        operation.locator("input[placeholder='client']").fill("123")
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table .response .response-col_status").first
        expect(status).to_have_text("200")
        expect(operation.locator(".live-responses-table .microlight").first).to_contain_text('"bflus": 1500')

    assert outside_requests == []  # nothing needed the (blocked) outside network
