"""SPEC §5a in the console, without a browser: one-time secrets, sudo mode, the two-person rule, roles,
console error pages. The browser tests drive the same through Chromium."""

import re
import time

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from clients.models import ClientSecret
from console.models import FormSubmission
from tests.conftest import issue_token, request_token, totp_code
from tests.test_admin import SECRET, as_partner, form_key, staff, submit_once, url
from tokens.models import RevocationRequest

pytestmark = pytest.mark.django_db


def login(client, username: str, group: str, password: str = "") -> User:
    user = staff(username, group)
    if password:
        user.set_password(password)
        user.save()
    client.force_login(user)
    return user


# --- a secret is revealed exactly once ------------------------------------------------------------


def test_rotation_reload_and_resubmit_never_rotate_again_nor_show_the_secret_again(api, client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    secret, secret_page, posted = submit_once(client, page, {"grace": "0s", "reason": "leak"})
    assert ClientSecret.objects.filter(community=acme.community).count() == 2

    reload = client.get(secret_page)  # reload, or Back onto the one-time page
    assert reload.status_code == 410 and not SECRET.search(reload.content.decode())
    assert "no-store" in reload["Cache-Control"]
    resubmit = client.post(page, posted)  # the browser's "resubmit form?", or Back then submit
    assert resubmit.status_code == 302 and "/admin/console/done/" in resubmit["Location"]
    done = client.get(resubmit["Location"]).content.decode()
    assert 'id="form-done"' in done and not SECRET.search(done)
    assert not SECRET.search(client.get(secret_page).content.decode())

    assert ClientSecret.objects.filter(community=acme.community).count() == 2
    assert AuditEvent.objects.filter(event_type="secret_rotated").count() == 1
    assert FormSubmission.objects.count() == 1
    assert request_token(api, as_partner(acme.community, secret)).status_code == 200


def test_a_one_time_form_reached_again_by_back_is_fetched_anew_and_not_refilled(client, acme):
    """Back onto a form already sent must show what is true now, not the form as it was filled in: the
    page is never stored (``no-store``) and its fields are ``autocomplete="off"``, so Chromium restores no
    typed value or ticked box (tests/test_console_browser.py drives the same in Chromium)."""
    login(client, "sue", "security")
    rotate = client.get(url("communities_community_rotate_secret", acme.community.pk))
    assert "no-store" in rotate["Cache-Control"]
    assert re.search(r'<form [^>]*id="page-form"[^>]*autocomplete="off"', rotate.content.decode())

    opening = client.get(url("tokens_revocationrequest_add"))
    assert "no-store" in opening["Cache-Control"]
    controls = re.findall(r"<(?:select|textarea|input)\b[^>]*>", opening.content.decode())
    form_controls = [
        control
        for control in controls
        if re.search(r'name="(community|reason|open_another|form_key)"', control)
    ]
    assert len(form_controls) >= 3
    assert all('autocomplete="off"' in control for control in form_controls), form_controls


def test_onboarding_resubmitted_creates_no_second_secret(client):
    login(client, "sue", "security")
    page = url("communities_community_add")
    _secret, secret_page, posted = submit_once(client, page, {"client_id": "newco", "name": "New Co"})
    assert "/admin/console/done/" in client.post(page, posted)["Location"]
    assert ClientSecret.objects.filter(community__client_id="newco").count() == 1
    assert client.get(secret_page).status_code == 410


def test_the_one_time_page_belongs_to_the_session_that_acted(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    posted = {"grace": "0s", "reason": "r", "form_key": form_key(client, page)}
    secret_page = client.post(page, posted)["Location"]
    colleague = Client()
    login(colleague, "other-security", "security")
    response = colleague.get(secret_page)
    text = response.content.decode()
    assert response.status_code == 404 and not SECRET.search(text)
    assert "Este link de segredo não é seu: só quem o criou pode vê-lo, uma única vez." in text
    assert "já foi mostrado" not in text
    # The colleague's visit neither showed nor used up the secret: its creator still sees it, once.
    assert SECRET.search(client.get(secret_page).content.decode())
    assert client.get(secret_page).status_code == 410  # and, once shown, it is gone


def test_a_failed_rotation_frees_its_form_key(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    posted = {"grace": "999d", "reason": "x", "form_key": form_key(client, page)}
    assert client.post(page, posted).status_code == 200  # invalid choice: form shown again
    assert FormSubmission.objects.count() == 0 and ClientSecret.objects.count() == 1


# --- sudo mode ------------------------------------------------------------------------------------


def test_a_stale_password_is_asked_for_again_before_a_secret_is_created(client, acme):
    login(client, "sue", "security", password="the-right-password-42")
    page = url("communities_community_rotate_secret", acme.community.pk)
    key = form_key(client, page)
    with time_machine.travel(time.time() + 11 * 60):
        prompt = client.get(page)
        assert prompt.status_code == 302 and "/confirm-password/" in prompt["Location"]
        # A POST with a stale password does nothing, whatever it carries.
        stale = client.post(page, {"grace": "1h", "reason": "typed before the prompt", "form_key": key})
        assert stale.status_code == 302 and "/confirm-password/" in stale["Location"]
        assert ClientSecret.objects.count() == 1
        wrong = client.post(prompt["Location"], {"password": "not-it", "next": page})
        assert wrong.status_code == 200 and "errorlist" in wrong.content.decode()
        no_code = client.post(prompt["Location"], {"password": "the-right-password-42", "next": page})
        assert no_code.status_code == 200  # the second factor is asked too
        code = totp_code(User.objects.get(username="sue"))
        right = client.post(
            prompt["Location"], {"password": "the-right-password-42", "code": code, "next": page}
        )
        assert right.status_code == 302 and right["Location"] == page
        back = client.get(page)  # the form comes back as it was typed before the prompt
        form = back.context["form"]
        assert (form["grace"].value(), form["reason"].value()) == ("1h", "typed before the prompt")
        secret, _page, _posted = submit_once(client, page, {"grace": "0s", "reason": "after sudo"})
    assert ClientSecret.objects.count() == 2 and SECRET.fullmatch(secret)


def test_the_password_prompt_only_returns_to_this_site(client):
    login(client, "sue", "security", password="pw-for-sue-123456")
    response = client.post(
        reverse("console:confirm-password"),
        {"password": "pw-for-sue-123456", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == url("index")


# --- roles and the two-person rule ----------------------------------------------------------------


def test_support_can_open_a_request_but_never_complete_one_or_obtain_a_secret(api, client, acme):
    login(client, "sam", "support")
    assert (
        client.post(
            url("tokens_revocationrequest_add"),
            {
                "community": acme.community.pk,
                "reason": "phoned in",
                "form_key": form_key(client, url("tokens_revocationrequest_add")),
            },
        ).status_code
        == 302
    )
    opened = RevocationRequest.objects.get()
    page = client.get(url("tokens_revocationrequest_change", opened.pk)).content.decode()
    assert 'id="handle-request"' not in page
    handle = url("tokens_revocationrequest_handle", opened.pk)
    assert client.get(handle).status_code == 403
    assert client.post(handle, {"grace": "0s", "reason": "x", "form_key": "k" * 20}).status_code == 403
    for name in ("communities_community_rotate_secret", "communities_community_add"):
        args = (acme.community.pk,) if "rotate" in name else ()
        assert client.get(url(name, *args)).status_code == 403
    assert ClientSecret.objects.count() == 1
    assert RevocationRequest.objects.get().status == "pending"


def test_whoever_opened_a_request_cannot_complete_it(client, acme):
    login(client, "sue", "security")
    client.post(
        url("tokens_revocationrequest_add"),
        {
            "community": acme.community.pk,
            "reason": "phoned in",
            "form_key": form_key(client, url("tokens_revocationrequest_add")),
        },
    )
    opened = RevocationRequest.objects.get()
    page = client.get(url("tokens_revocationrequest_change", opened.pk)).content.decode()
    assert 'id="handle-request"' not in page and 'id="handle-blocked"' in page
    response = client.post(
        url("tokens_revocationrequest_handle", opened.pk),
        {"grace": "0s", "reason": "x", "form_key": "k" * 20},
    )
    assert response.status_code == 302 and not SECRET.search(response.content.decode())
    assert ClientSecret.objects.count() == 1 and RevocationRequest.objects.get().status == "pending"

    # A second person completes it.
    login(client, "tom", "security")
    secret, _page, _posted = submit_once(
        client, url("tokens_revocationrequest_handle", opened.pk), {"grace": "0s", "reason": "second person"}
    )
    assert RevocationRequest.objects.get().status == "done" and SECRET.fullmatch(secret)


def test_support_sees_every_page_but_no_secret_creating_control(api, client, acme):
    issue_token(api, acme)  # a live token: something to revoke, so the link is offered
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert 'id="rotate-secret"' not in page and 'id="revoke-tokens"' in page and 'id="usage-chart"' in page
    assert (
        "Motivo" not in page and "&quot;bflus:read&quot;" not in page and "bflus:read" in page
    )  # read-only view
    for name in (
        "communities_community_changelist",
        "tokens_issuedtoken_changelist",
        "tokens_revocationrequest_changelist",
        "audit_auditevent_changelist",
    ):
        assert client.get(url(name)).status_code == 200
    assert (
        not Group.objects.get(name="support").permissions.filter(codename="handle_revocationrequest").exists()
    )


# --- console pages, never API JSON, inside /admin/ ------------------------------------------------


def test_console_errors_are_console_pages(client, acme):
    login(client, "sam", "support")
    forbidden = client.get(url("communities_community_rotate_secret", acme.community.pk))
    assert forbidden.status_code == 403 and forbidden["Content-Type"].startswith("text/html")
    assert "console-error" in forbidden.content.decode() and '"error"' not in forbidden.content.decode()
    missing = client.get("/admin/communities/community/999999/rotate-secret/")
    assert missing.status_code in (403, 404) and missing["Content-Type"].startswith("text/html")
    missing = client.get("/admin/console/nothing-here/")
    assert missing.status_code == 404 and "console-error" in missing.content.decode()


def test_api_errors_stay_json_and_the_root_leads_to_the_docs(client):
    assert client.get("/no-such-endpoint").json()["error"] == "not_found"
    root = client.get("/")
    assert root.status_code == 302 and root["Location"] == "/api/docs/"


@pytest.mark.parametrize("page", ["onboard", "complete"])
def test_onboarding_and_completing_a_request_also_ask_for_a_stale_password(api, client, acme, page):
    login(client, "sue", "security")
    if page == "onboard":
        target = url("communities_community_add")
    else:
        api.post(
            "/auth/revocation-requests",
            {"client_id": "acme", "client_secret": acme.client_secret, "reason": "leak"},
            format="json",
        )
        target = url("tokens_revocationrequest_handle", RevocationRequest.objects.get().pk)
    key = form_key(client, target)
    with time_machine.travel(time.time() + 11 * 60):
        response = client.post(target, {"client_id": "newco", "name": "New", "reason": "x", "form_key": key})
        assert response.status_code == 302 and "/confirm-password/" in response["Location"]
    assert ClientSecret.objects.count() == 1 and FormSubmission.objects.count() == 0


def test_the_secret_leaves_the_session_store_once_shown(client, acme):
    from django.contrib.sessions.models import Session

    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    posted = {"grace": "0s", "reason": "r", "form_key": form_key(client, page)}
    secret_page = client.post(page, posted)["Location"]

    def stored() -> str:
        return "".join(str(session.get_decoded()) for session in Session.objects.all())

    assert "console.secret." in stored() and not SECRET.search(stored())  # waiting, server-side, encrypted
    secret = SECRET.search(client.get(secret_page).content.decode()).group(0)
    assert secret not in stored()


def test_a_new_secret_waiting_for_its_one_time_page_is_not_readable_in_the_session_table(client, acme):
    """Between the console's POST and its one-time page the new secret waits in the staff member's session,
    i.e. the ``django_session`` table (base64 JSON, signed but not encrypted). A redirect never followed
    (a closed tab, a dropped connection) left it there in clear for the session's life (two weeks), in
    every backup; ``dumpdata`` hid it only because the whole session is base64."""
    from django.contrib.sessions.models import Session

    from tests.test_admin import SECRET, form_key, shown_secret, url

    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    response = client.post(page, {"grace": "0s", "reason": "leak", "form_key": form_key(client, page)})
    assert response.status_code == 302
    stored = " ".join(str(session.get_decoded()) for session in Session.objects.all())
    assert "console.secret." in stored  # it is waiting there ...
    assert not SECRET.search(stored)  # ... but not readable from the table alone
    secret = shown_secret(client.get(response["Location"]))
    assert secret.startswith("bfl_sk_") and secret[len("bfl_sk_") :] not in stored
    assert request_token_ok(acme, secret)


def request_token_ok(created, secret) -> bool:
    from rest_framework.test import APIClient

    response = APIClient().post(
        "/auth/token", {"client_id": created.community.client_id, "client_secret": secret}, format="json"
    )
    return response.status_code == 200


def test_a_mistyped_action_under_a_real_record_is_a_missing_page_not_a_missing_record(client, acme):
    """/community/1/end-old-secret/ is no page: Django's fallback read it as the community
    "1/end-old-secret" and said that community did not exist."""
    login(client, "sue", "security")
    community = f"/admin/communities/community/{acme.community.pk}"
    for mistyped in (f"{community}/end-old-secret/", f"{community}/end-old-secret/change/"):
        response = client.get(mistyped, follow=True)
        text = response.content.decode()
        assert response.status_code == 404 and "console-error" in text, mistyped
        assert "Não há nada neste endereço" in text and "Não há registro" not in text, mistyped
    assert client.get(f"{community}/")["Location"].endswith(f"{community}/change/")  # Django's old address
    assert client.get(f"{community}/change/").status_code == 200


def test_no_console_list_reads_a_path_under_a_record_as_the_records_key(admin_client):
    from django.contrib import admin

    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/1"
        for mistyped in (f"{base}/no-such-page/", f"{base}/no-such-page/history/"):
            assert admin_client.get(mistyped).status_code == 404, mistyped
