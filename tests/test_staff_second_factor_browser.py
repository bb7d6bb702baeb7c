"""The staff second factor in Chromium (SPEC §5a), in pt-BR: enrolment and sign-in with an authenticator
app (pyotp computes what any app shows) and with a passkey (Chromium's virtual authenticator over CDP),
actions refused until the factor is given, a recovery code, the password prompt keeping the form, and the
two-person reset."""

import re
import time
from base64 import b32encode

import pyotp
import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connections
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from audit.models import AuditEvent
from tests.browser import chromium_page, needs_chromium, pass_second_factor, screenshot, staff_groups  # noqa: F401
from tests.conftest import make_community, totp_code, verified_device
from tests.test_console_dpop_and_request_truths import _token

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
]
PASSWORD = "a-long-password-for-staff"
Event = AuditEvent.EventType


def member(username: str, group: str = "security") -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, first_name=username.title())
    user.groups.add(Group.objects.get(name=group))
    return user


def type_password(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def sign_out(page) -> None:
    page.click("#logout-form button")


def audit(event_type) -> list[dict]:
    rows = [
        (row.actor, row.details) for row in AuditEvent.objects.filter(event_type=event_type).order_by("id")
    ]
    connections.close_all()
    return rows


def test_enrol_with_an_authenticator_app_then_sign_in_with_its_code(live_server, tmp_path):
    base = live_server.url
    member("ana")
    community = make_community("appco").community
    connections.close_all()
    with chromium_page() as page:
        type_password(page, base, "ana")
        expect(page.locator("#second-factor-enrol")).to_be_visible()
        screenshot(page, "second-factor-enrol", tmp_path)
        # Nothing else is reachable before the factor: a security action lands back here.
        page.goto(f"{base}/admin/communities/community/{community.pk}/rotate-secret/")
        expect(page.locator("#second-factor-enrol")).to_be_visible()

        key = page.inner_text("#totp-key").replace(" ", "")
        app = pyotp.TOTP(key)  # what any authenticator app shows for that key
        page.fill("#id_code", app.now())
        page.click("#enrol-form input[type=submit]")
        expect(page.locator("#recovery-code-list li")).to_have_count(10)
        screenshot(page, "recovery-codes", tmp_path)
        recovery = page.inner_text("#recovery-code-list li >> nth=0").strip()
        page.reload()  # shown once: a reload neither shows nor replaces them
        expect(page.locator("#recovery-codes-gone")).to_be_visible()
        page.goto(f"{base}/admin/")
        expect(page.locator("#content-main")).to_be_visible()

        sign_out(page)
        type_password(page, base, "ana")
        expect(page.locator("#second-factor-verify")).to_be_visible()
        screenshot(page, "second-factor-verify", tmp_path)
        page.fill("#id_code", app.at(time.time() + 30))  # the next code: the last one was used
        page.click("#second-factor-form input[type=submit]")
        expect(page.locator("#content-main")).to_be_visible()
        assert "/second-factor/" not in page.url

        # Lost the phone: a recovery code gets in, once, and says how many are left.
        sign_out(page)
        type_password(page, base, "ana")
        page.fill("#id_code", recovery)
        page.click("#second-factor-form input[type=submit]")
        expect(page.locator(".messagelist .warning")).to_contain_text("restam 9")
        sign_out(page)
        type_password(page, base, "ana")
        page.fill("#id_code", recovery)
        page.click("#second-factor-form input[type=submit]")
        expect(page.locator(".errorlist")).to_contain_text("não é válido")
        page.click("#second-factor-help-link")
        expect(page.locator("#second-factor-help")).to_contain_text("addstatictoken ana")
        screenshot(page, "second-factor-help", tmp_path)

    assert [details["method"] for _actor, details in audit(Event.SECOND_FACTOR_ENROLLED)] == ["totp"]
    assert [details["where"] for _actor, details in audit(Event.SECOND_FACTOR_USED)] == ["sign_in"]
    assert audit(Event.RECOVERY_CODE_USED) == [("ana", {"where": "sign_in", "codes_left": 9})]
    assert len(audit(Event.STAFF_SIGNED_OUT)) == 3


def test_enrol_and_sign_in_with_a_virtual_passkey(live_server, tmp_path):
    base = live_server.url.replace("127.0.0.1", "localhost")  # a passkey needs a host name, not an IP
    member("bia")
    connections.close_all()
    with chromium_page() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        type_password(page, base, "bia")
        page.click("#passkey-register-button")
        # The ceremony is a few round trips and a navigation: give a busy machine time.
        expect(page.locator("#recovery-code-list li")).to_have_count(10, timeout=20_000)  # first: codes too
        page.click("#codes-stored")
        expect(page.locator("#content-main")).to_be_visible()

        sign_out(page)
        type_password(page, base, "bia")
        expect(page.locator("#passkey-verification-button")).to_be_visible(timeout=20_000)
        page.click("#passkey-verification-button")
        page.wait_for_url(re.compile(r".*/admin/$"))
        expect(page.locator("#content-main")).to_be_visible()

    assert [details["method"] for _a, details in audit(Event.SECOND_FACTOR_ENROLLED)] == ["passkey"]
    assert [details["method"] for _a, details in audit(Event.SECOND_FACTOR_USED)] == ["passkey"]


def test_the_prompt_asks_for_password_and_code_and_keeps_every_field(live_server, tmp_path):
    base = live_server.url
    member("sue")
    community = make_community("keepco").community
    _token(community, jti="keepco-live")  # a live token: the rotate page offers its revoke box only then
    connections.close_all()
    rotate = f"{base}/admin/communities/community/{community.pk}/rotate-secret/"
    with chromium_page() as page:
        type_password(page, base, "sue")
        pass_second_factor(page, "sue")
        page.goto(rotate)
        with time_machine.travel(time.time() + 11 * 60, tick=True):
            page.select_option("#id_grace", "1h")
            page.check("#id_revoke_tokens")
            page.fill("#id_reason", "suspeita de vazamento, ticket 4417")
            page.click("#page-form input[type=submit]")
            expect(page.locator("#confirm-password-form")).to_be_visible()
            page.fill("#id_password", "not-my-password")
            page.fill("#id_code", "000000")
            page.click("#confirm-password-form input[type=submit]")
            expect(page.locator(".errorlist")).to_contain_text("Restam 4 tentativas")
            screenshot(page, "confirm-password-and-code", tmp_path)
            user = User.objects.get(username="sue")
            TOTPDevice.objects.filter(user=user).update(last_t=-1)
            code = totp_code(user)
            connections.close_all()
            page.fill("#id_password", PASSWORD)
            page.fill("#id_code", code)
            page.click("#confirm-password-form input[type=submit]")
            expect(page.locator("#page-form")).to_be_visible()
            assert page.url == rotate
            assert page.input_value("#id_grace") == "1h"
            assert page.is_checked("#id_revoke_tokens")
            assert page.input_value("#id_reason") == "suspeita de vazamento, ticket 4417"
    assert len(audit(Event.STAFF_PROMPT_FAILED)) == 1 and not audit(Event.STAFF_SIGN_IN_FAILED)


def test_another_security_member_resets_a_factor_and_nobody_their_own(live_server, tmp_path):
    base = live_server.url
    sue = member("sue")
    verified_device(member("tom"))  # something to reset: else the row offers no button
    connections.close_all()
    with chromium_page() as page:
        type_password(page, base, "sue")
        pass_second_factor(page, "sue")
        page.goto(f"{base}/admin/console/staffaccount/")
        expect(page.locator("#result_list")).to_contain_text("aplicativo autenticador")
        screenshot(page, "staff-accounts", tmp_path)
        expect(page.locator("tr", has_text="sue").get_by_text("Redefinir segundo fator")).to_have_count(0)
        page.goto(f"{base}/admin/console/staffaccount/{sue.pk}/reset-second-factor/")  # by address
        expect(page.locator(".messagelist .error")).to_contain_text("Ninguém faz isso para si mesmo")
        page.locator("tr", has_text="tom").get_by_text("Redefinir segundo fator").click()
        page.fill("#id_reason", "Tom ligou; voz conferida")
        page.click("#confirm-form input[type=submit]")
        expect(page.locator(".messagelist .success")).to_contain_text("redefinido. O que foi removido")
        expect(page.locator("tr", has_text="tom")).to_contain_text("ainda não cadastrado")
    assert [details["subject"] for _a, details in audit(Event.SECOND_FACTOR_RESET)] == ["tom"]
    assert [details["why"] for _a, details in audit(Event.STAFF_ACTION_REFUSED)] == ["same_person"]
    assert not TOTPDevice.objects.filter(user__username="tom").exists()
    connections.close_all()
    # Tom enrols anew at his next sign-in.
    with chromium_page() as page:
        type_password(page, base, "tom")
        expect(page.locator("#second-factor-enrol")).to_be_visible()


def test_b32_key_on_the_page_matches_the_device(live_server):
    """The key typed by hand is the device's own key (base32, as apps expect)."""
    base = live_server.url
    member("leo")
    connections.close_all()
    with chromium_page() as page:
        type_password(page, base, "leo")
        shown = page.inner_text("#totp-key").replace(" ", "")
    device = TOTPDevice.objects.get(user__username="leo")
    assert shown == b32encode(device.bin_key).decode()
    connections.close_all()
