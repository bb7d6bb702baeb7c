"""Headless Debian Chromium driven by Playwright, for the end-to-end tests (never ``playwright install``)."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

LOCAL_HOSTS = {"127.0.0.1", "localhost"}

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# Without these, Chromium keeps calling outside hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it",
)


@contextmanager
def chromium_page(*, back_forward_cache: bool = False):
    """A fresh browser page whose requests to anything but this machine are aborted (no CDN, no leaks).

    ``back_forward_cache``: keep Chromium's back/forward cache on, as people have it (Playwright turns it
    off by default); a page restored from it fires no "load", so go Back with ``wait_until="commit"``."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; our test-database calls in between are still synchronous.
    # Only for the browser's lifetime: server processes started by other tests must not inherit it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                ignore_default_args=["--disable-back-forward-cache"] if back_forward_cache else None,
            )
            try:
                page = browser.new_page(locale="pt-BR", viewport={"width": 1280, "height": 860})
                page.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if urlparse(route.request.url).hostname in LOCAL_HOSTS
                        else route.abort()
                    ),
                )
                yield page
            finally:
                browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Into docs/screenshots/ when UPDATE_SCREENSHOTS=1 (for the README), else into the test's tmp dir."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


@pytest.fixture
def staff_groups(transactional_db):
    """The support and security groups as the migrations leave them.

    Browser tests need a transactional database, which is emptied after each test; the groups the
    migrations created go with it, so they are put back here, from the migrations' own lists.
    """
    from importlib import import_module

    from django.contrib.auth.models import Group, Permission

    groups = {
        name: [*codes, *import_module("tokens.migrations.0009_client_auth_staff_permissions").GRANTS[name]]
        for name, codes in import_module("tokens.migrations.0003_staff_groups").GROUPS.items()
    }
    withdrawn = {"tokens.handle_revocationrequest"}  # console.0002: support never completes a request
    for name, codes in groups.items():
        group, _created = Group.objects.get_or_create(name=name)
        for code in codes:
            if name == "support" and code in withdrawn:
                continue
            # By codename: the audit trail's permissions moved from tokens to the audit app.
            group.permissions.add(Permission.objects.get(codename=code.split(".")[1]))
    security = Group.objects.get(name="security")
    for codename in import_module("console.migrations.0003_staff_accounts").SECURITY:
        security.permissions.add(Permission.objects.get(content_type__app_label="console", codename=codename))


def pass_second_factor(page, username: str) -> None:
    """Sign-in's second step as a person takes it: the code their authenticator app shows (pyotp). The
    account gets an app first if it has none (the enrolment itself is tested on its own)."""
    from django.contrib.auth.models import User
    from django.db import connections
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import totp_code, verified_device

    user = User.objects.get(username=username)
    # A second sign-in within the same 30 s would reuse the app's code, which django-otp refuses.
    TOTPDevice.objects.filter(pk=verified_device(user).pk).update(last_t=-1)
    code = totp_code(user)
    connections.close_all()  # work done under Playwright's loop: never leave its connection open
    if "/second-factor/enrol/" in page.url:  # it had none when the password was typed
        page.goto(page.url.replace("/second-factor/enrol/", "/second-factor/"))
    page.fill("#id_code", code)
    page.click("#second-factor-form input[type=submit]")
