"""Content-Security-Policy on the API docs and the staff console, in a real browser: every page works and
Chromium reports not one violation (``securitypolicyviolation`` events and console messages)."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.db import connections
from playwright.sync_api import expect

from tests.browser import chromium_page, needs_chromium, pass_second_factor, staff_groups  # noqa: F401

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
]

# Recorded in the page itself, from the first script on: every violation the browser reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


class Watch:
    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        self.events: list[str] = []
        self.policies: dict[str, str] = {}
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.policies[response.url] = response.headers.get("content-security-policy", "")

    def collect(self) -> None:
        self.events += self.page.evaluate("window.__cspViolations || []")

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.collect()


def test_api_docs_run_under_the_policy_without_a_violation(live_server):
    with chromium_page() as page:
        watch = Watch(page)
        watch.visit(f"{live_server.url}/api/docs/")
        expect(page.locator("#operations-operations-healthz")).to_be_visible()
        # Try it out on /healthz: Swagger UI's own call (connect-src) and its rendering of the answer.
        operation = page.locator("#operations-operations-healthz")
        operation.locator(".opblock-summary").click()
        operation.locator("button.execute").click()
        expect(operation.locator(".live-responses-table .response .response-col_status").first).to_have_text(
            "200"
        )
        page.click("button.authorize")
        page.locator(".modal-ux").wait_for()
        watch.collect()
        english = f"{live_server.url}/api/docs/?lang=en"
        watch.visit(english)
        expect(page.locator("#operations-auth-auth_token")).to_be_visible()
        watch.collect()
    policy = watch.policies[f"{live_server.url}/api/docs/"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9+/=]+'", policy), policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert watch.policies[english] and watch.policies[english] != policy  # a fresh nonce per response
    assert watch.events == [] and watch.console == [], (watch.events, watch.console)


def test_console_pages_run_under_the_policy_without_a_violation(live_server):
    base = live_server.url
    user = User.objects.create_user("carla", password="a-long-password-for-carla", is_staff=True)
    user.groups.add(Group.objects.get(name="security"))
    connections.close_all()
    with chromium_page() as page:
        watch = Watch(page)
        watch.visit(f"{base}/admin/login/")
        page.fill("#id_username", "carla")
        page.fill("#id_password", "a-long-password-for-carla")
        watch.collect()
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        watch.collect()  # the second-factor page runs under the policy too
        pass_second_factor(page, "carla")  # every staff account signs in with its second factor
        expect(page.locator("#user-tools")).to_be_visible()
        watch.collect()
        # The one-time secret page, with its Copy button (a script file now, never an onclick).
        watch.visit(f"{base}/admin/communities/community/add/")
        page.fill("#id_client_id", "cspco")
        page.fill("#id_name", "CSP Co")
        page.check("input[name=permissions][value='bflus:read']")
        page.click("input[type=submit]")
        expect(page.locator("#client-secret")).to_be_visible()
        page.wait_for_load_state("networkidle")
        watch.collect()
        for path in (
            "/admin/",
            "/admin/communities/community/",
            "/admin/communities/community/?q=csp",
            "/admin/tokens/issuedtoken/",
            "/admin/audit/auditevent/",
        ):
            watch.visit(f"{base}{path}")
        page.click("#changelist a >> nth=0") if page.locator("#changelist a").count() else None
        page.wait_for_load_state("networkidle")
        watch.collect()
    connections.close_all()
    assert "default-src 'self'" in watch.policies[f"{base}/admin/login/"]
    assert all(watch.policies.values()), watch.policies
    assert watch.events == [] and watch.console == [], (watch.events, watch.console)


def test_api_responses_carry_no_page_policy(api):
    """The partner API skips the console's middleware: JSON needs no CSP, and gets none."""
    assert "Content-Security-Policy" not in api.get("/healthz")
    assert "Content-Security-Policy" in api.get("/api/docs/")
