"""The staff second factor (SPEC §5a) through Django's test client and the real sign-in form: the gate,
enrolment, codes, recovery codes, the two-person reset, lifting a lock, and the audit rows of each."""

import time
from base64 import b32encode
from io import StringIO

import pyotp
import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from clients.models import ClientSecret
from tests.conftest import make_community, totp_code, verified_device
from tests.test_admin import form_key

pytestmark = pytest.mark.django_db
Event = AuditEvent.EventType
PASSWORD = "correct-horse-battery-staple-7"
VERIFY = "/admin/console/second-factor/"
ENROL = "/admin/console/second-factor/enrol/"
CODES = "/admin/console/second-factor/recovery-codes/"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def member(username: str, group: str = "security", *, enrolled: bool = True) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, first_name=username.title())
    user.groups.add(Group.objects.get(name=group))
    if enrolled:
        verified_device(user)
    return user


def password_only(username: str, ip: str = "203.0.113.7") -> Client:
    """Signed in through the form with the password: no second factor given yet."""
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response
    return client


def signed_in(username: str) -> Client:
    """The password, then the app's code, as a person does it."""
    client = password_only(username)
    user = User.objects.get(username=username)
    response = client.post(VERIFY, {"code": totp_code(user), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    return client


def events(event_type) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("id"))


# --- the gate -----------------------------------------------------------------------------------------


def test_a_member_without_a_factor_can_only_enrol_and_enrols_with_any_authenticator_app():
    member("newbie", enrolled=False)
    client = password_only("newbie")
    community = make_community("gateco").community
    rotate = reverse("admin:communities_community_rotate_secret", args=[community.pk])
    for page in ("/admin/", rotate, "/admin/console/staffaccount/"):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith(ENROL), page
    refused = client.post(rotate, {"grace": "0s", "reason": "x", "form_key": "k" * 20})
    assert refused.status_code == 302 and ClientSecret.objects.count() == 1

    page = client.get(ENROL)
    assert page.status_code == 200 and "<svg" in page.content.decode()  # the QR code, inline
    device = TOTPDevice.objects.get(user__username="newbie", confirmed=False)
    app = pyotp.TOTP(b32encode(device.bin_key).decode())  # what any authenticator app computes
    assert client.post(ENROL, {"code": "000000"}).status_code == 200
    assert client.get("/admin/").status_code == 302  # still not enrolled
    with time_machine.travel(time.time() + 3, tick=True):  # django-otp waits 1 s after a wrong code
        done = client.post(ENROL, {"code": app.now()})
    assert done.status_code == 302 and done["Location"] == CODES

    shown = client.get(CODES)
    codes = shown.context["codes"]
    assert len(codes) == 10 and all(code in shown.content.decode() for code in codes)
    reloaded = client.get(CODES)  # a reload shows none and replaces none
    assert reloaded.context["codes"] is None and codes[0] not in reloaded.content.decode()
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(codes)
    assert client.get("/admin/").status_code == 200

    assert [e.details for e in events(Event.SECOND_FACTOR_FAILED)] == [{"where": "enrolment"}]
    assert [(e.actor, e.details) for e in events(Event.SECOND_FACTOR_ENROLLED)] == [
        ("newbie", {"method": "totp"})
    ]
    assert [e.details for e in events(Event.RECOVERY_CODES_ISSUED)] == [{"count": 10}]


def test_new_recovery_codes_only_on_an_explicit_post_then_shown_once():
    member("sue")
    client = signed_in("sue")
    assert client.get(CODES).context["codes"] is None
    made = client.post(CODES)
    assert made.status_code == 302 and made["Location"] == CODES  # POST, redirect, GET
    first = client.get(CODES).context["codes"]
    assert len(first) == 10 and client.get(CODES).context["codes"] is None
    assert StaticToken.objects.count() == 10


def test_sign_in_asks_for_the_code_and_audits_a_failure_and_the_use():
    sue = member("sue")
    client = password_only("sue")
    assert client.get("/admin/")["Location"].startswith(VERIFY)
    wrong = client.post(VERIFY, {"code": "123456", "next": "/admin/"})
    assert wrong.status_code == 200 and "errorlist" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302
    with time_machine.travel(time.time() + 3, tick=True):  # django-otp waits 1 s after a wrong code
        right = client.post(VERIFY, {"code": totp_code(sue), "next": "/admin/"})
    assert right.status_code == 302 and client.get("/admin/").status_code == 200
    assert [e.details["where"] for e in events(Event.SECOND_FACTOR_FAILED)] == ["sign_in"]
    assert [(e.actor, e.details) for e in events(Event.SECOND_FACTOR_USED)] == [
        ("sue", {"where": "sign_in", "method": "totp"})
    ]


def test_a_recovery_code_from_addstatictoken_gets_a_person_in_once():
    member("sue")
    call_command("addstatictoken", "sue", "-t", "rescue123", stdout=StringIO())
    client = password_only("sue")
    assert client.post(VERIFY, {"code": "rescue123", "next": "/admin/"}).status_code == 302
    assert client.get("/admin/").status_code == 200  # the app is still enrolled: in
    [used] = events(Event.RECOVERY_CODE_USED)
    assert used.details == {"where": "sign_in", "codes_left": 0} and "rescue123" not in str(used.details)
    again = password_only("sue")
    assert again.post(VERIFY, {"code": "rescue123", "next": "/admin/"}).status_code == 200  # used up


def test_a_person_who_only_has_a_recovery_code_enrols_right_after_using_it():
    member("tom", enrolled=False)
    call_command("addstatictoken", "tom", "-t", "onetime42", stdout=StringIO())
    client = password_only("tom")
    assert client.get("/admin/")["Location"].startswith(VERIFY)  # has a factor: give it first
    assert client.get(ENROL)["Location"].startswith(VERIFY)  # no enrolling around it
    client.post(VERIFY, {"code": "onetime42", "next": "/admin/"})
    assert client.get("/admin/")["Location"].startswith(ENROL)
    assert client.get(ENROL).status_code == 200


def test_the_password_prompt_failures_are_their_own_event_and_count_attempts_left():
    sue = member("sue")
    client = signed_in("sue")
    session = client.session
    session["console.password_confirmed_at"] = 0  # long ago: the prompt is due
    session.save()
    prompt = reverse("console:confirm-password")
    response = client.post(prompt, {"password": "not-it", "code": totp_code(sue), "next": "/admin/"})
    assert response.status_code == 200
    left = settings.AXES_FAILURE_LIMIT - 1
    assert f"Restam {left} tentativas" in response.content.decode()
    assert len(events(Event.STAFF_PROMPT_FAILED)) == 1 and not events(Event.STAFF_SIGN_IN_FAILED)


def test_the_sign_in_form_says_how_many_attempts_are_left():
    member("sue")
    response = Client().post("/admin/login/", {"username": "sue", "password": "wrong"})
    assert f"Restam {settings.AXES_FAILURE_LIMIT - 1} tentativas" in response.content.decode()


# --- the two-person rule ------------------------------------------------------------------------------


def test_another_security_member_resets_a_factor_but_nobody_resets_their_own():
    member("sue")
    tom = member("tom")
    member("sam", "support")
    call_command("addstatictoken", "tom", stdout=StringIO())
    sue_client = signed_in("sue")
    own = reverse(
        "admin:console_staffaccount_reset_second_factor", args=[User.objects.get(username="sue").pk]
    )
    assert sue_client.post(own, {"reason": "lost my phone"}).status_code == 302
    assert TOTPDevice.objects.filter(user__username="sue").exists()
    [refused] = events(Event.STAFF_ACTION_REFUSED)
    assert refused.details == {"action": "second_factor_reset", "subject": "sue", "why": "same_person"}

    reset = reverse("admin:console_staffaccount_reset_second_factor", args=[tom.pk])
    assert signed_in("sam").get(reset).status_code == 403  # support cannot
    assert sue_client.get(reset).status_code == 200
    done = sue_client.post(reset, {"reason": "Tom phoned, voice checked"})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=tom).exists() and not StaticToken.objects.filter(
        device__user=tom
    )
    [row] = events(Event.SECOND_FACTOR_RESET)
    assert (row.actor, row.details["subject"], row.details["devices_removed"]) == ("sue", "tom", 2)
    assert password_only("tom").get("/admin/")["Location"].startswith(ENROL)  # enrols anew


def test_the_reset_command_is_audited_as_the_operator():
    member("tom")
    out = StringIO()
    call_command("reset_second_factor", "tom", "--reason", "ticket 42", stdout=out)
    assert not TOTPDevice.objects.filter(user__username="tom").exists()
    [row] = events(Event.SECOND_FACTOR_RESET)
    assert row.actor_type == "command" and row.details["reason"] == "ticket 42"


def test_a_security_member_lifts_a_colleagues_lock_and_it_is_audited():
    member("sue")
    member("tom")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR="198.51.100.9").post("/admin/login/", {"username": "tom", "password": "wrong"})
    locked = Client(REMOTE_ADDR="198.51.100.9").post(
        "/admin/login/", {"username": "tom", "password": PASSWORD}
    )
    assert locked.status_code == 429 and "Contas da equipe" in locked.content.decode()
    sue_client = signed_in("sue")
    listing = sue_client.get("/admin/console/staffaccount/").content.decode()
    assert "bloqueada a partir de 1 endereço" in listing
    lift = reverse("admin:console_staffaccount_lift_lock", args=[User.objects.get(username="tom").pk])
    sue_lift = reverse("admin:console_staffaccount_lift_lock", args=[User.objects.get(username="sue").pk])
    assert (
        lift in listing and sue_lift not in listing
    )  # offered where there is a lock, never on one's own row
    assert sue_client.post(lift, {"reason": "Tom phoned"}).status_code == 302
    assert not AccessAttempt.objects.filter(username="tom").exists()
    after = sue_client.get("/admin/console/staffaccount/").content.decode()
    assert "Bloqueio de entrada retirado para Tom." in after  # the person's name, not the username
    assert lift not in after  # nothing left to lift
    again = Client(REMOTE_ADDR="198.51.100.9").post(
        "/admin/login/", {"username": "tom", "password": PASSWORD}
    )
    assert again.status_code == 302
    [row] = events(Event.STAFF_LOCK_LIFTED)
    assert row.actor == "sue" and row.details["subject"] == "tom" and row.details["reason"] == "Tom phoned"


def test_completing_ones_own_revocation_request_is_a_refusal_in_the_trail():
    from tokens.models import RevocationRequest

    member("sue")
    community = make_community("reqco").community
    signed = signed_in("sue")
    page = reverse("admin:tokens_revocationrequest_add")
    # The request form carries its one-time key, as a browser sends it (console/once.py).
    opened_at = signed.post(
        page, {"community": community.pk, "reason": "leak", "form_key": form_key(signed, page)}
    )
    assert opened_at.status_code == 302
    opened = RevocationRequest.objects.get()
    signed.get(reverse("admin:tokens_revocationrequest_handle", args=[opened.pk]))
    [row] = events(Event.STAFF_ACTION_REFUSED)
    assert row.details["action"] == "revocation_request_complete" and row.actor == "sue"


# --- the rest of the trail ----------------------------------------------------------------------------


def test_sign_out_and_password_changes_are_in_the_trail():
    member("sue")
    tom = member("tom")
    root = User.objects.create_superuser("root", password=PASSWORD)
    verified_device(root)
    client = signed_in("root")
    reset = reverse("admin:auth_user_password_change", args=[tom.pk])
    new = "a-brand-new-passphrase-99"
    response = client.post(reset, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302
    [row] = events(Event.STAFF_PASSWORD_RESET)
    assert (row.actor, row.details) == ("root", {"subject": "tom"})

    sue_client = signed_in("sue")
    changed = sue_client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    [row] = events(Event.STAFF_PASSWORD_CHANGED)
    assert (row.actor, row.details) == ("sue", {"subject": "sue"})

    assert sue_client.post("/admin/logout/").status_code == 200
    assert [e.actor for e in events(Event.STAFF_SIGNED_OUT)] == ["sue"]


def test_the_help_page_names_who_can_help_but_not_oneself():
    member("sue", enrolled=False)
    member("tom")
    member("sam", "support")
    call_command("addstatictoken", "sue", stdout=StringIO())
    page = password_only("sue").get("/admin/console/second-factor/help/").content.decode()
    assert "Tom" in page and "Sue" not in page.split('id="security-members"')[1].split("</ul>")[0]
    assert "Sam" not in page and "addstatictoken sue" in page


def test_security_actions_wait_for_the_second_factor_even_with_the_password():
    member("sue")
    community = make_community("waitco").community
    client = password_only("sue")
    for name in ("communities_community_rotate_secret", "communities_community_deactivate"):
        page = reverse(f"admin:{name}", args=[community.pk])
        response = client.post(page, {"grace": "0s", "reason": "x", "form_key": "k" * 20})
        assert response.status_code == 302 and response["Location"].startswith(VERIFY), name
    community.refresh_from_db()
    assert ClientSecret.objects.count() == 1 and community.is_active


def test_a_person_locked_at_the_prompt_is_not_sent_back_to_sign_in():
    sue = member("sue")
    member("tom")
    client = signed_in("sue")
    session = client.session
    session["console.password_confirmed_at"] = 0
    session.save()
    prompt = reverse("console:confirm-password")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(prompt, {"password": "not-it", "code": totp_code(sue), "next": "/admin/"})
    page = response.content.decode()
    assert response.status_code == 429
    assert "Você continua conectado" in page and "página de entrada" not in page
    assert "Tom" in page  # who can lift it, by name


def test_new_recovery_codes_and_a_colleagues_reset_ask_for_the_password_and_code_again():
    member("sue")
    tom = member("tom")
    client = signed_in("sue")
    session = client.session
    session["console.password_confirmed_at"] = 0  # typed long ago
    session.save()
    prompt = reverse("console:confirm-password")
    assert client.post(CODES)["Location"].startswith(prompt)
    assert not StaticToken.objects.exists()
    reset = reverse("admin:console_staffaccount_reset_second_factor", args=[tom.pk])
    response = client.post(reset, {"reason": "Tom phoned"})
    assert response["Location"].startswith(prompt)
    assert TOTPDevice.objects.filter(user=tom).exists()
    # After the prompt, the reason typed comes back in the form.
    session = client.session
    session["console.password_confirmed_at"] = int(time.time())
    session.save()
    assert client.get(reset).context["form"]["reason"].value() == "Tom phoned"


def test_the_passkey_scripts_and_errors_speak_portuguese():
    """django-otp-webauthn ships no pt-BR; the console adds it (console/passkey_locale)."""
    member("sue", enrolled=False)
    client = password_only("sue")
    catalog = client.get("/admin/console/webauthn/jsi18n/").content.decode()
    assert "Registrando" in catalog and "Registering..." in catalog  # the msgid, mapped to pt-BR
    assert "adastr" not in catalog  # one verb for keys in the console: "registrar"
    refused = client.post(
        "/admin/console/webauthn/registration/complete/", "{}", content_type="application/json"
    )
    assert refused.status_code >= 400 and "Estado ausente" in refused.json()["detail"]
