"""Sessions, CSRF, staff sign-in and messages run for the staff console, never for the partner API
(issue 14): the console keeps every protection, the API pays for none of it."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from tests.conftest import bearer, get_bflus, issue_token, request_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():
    return User.objects.create_superuser("root", password="a-long-staff-password")


def test_the_console_still_refuses_a_sign_in_without_its_csrf_token(staff_user):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/admin/login/", {"username": "root", "password": "a-long-staff-password"})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


def test_the_console_signs_in_with_its_csrf_token_and_keeps_the_session(staff_user):
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/admin/login/")
    assert "csrftoken" in form.cookies
    response = browser.post(
        "/admin/login/",
        {
            "username": "root",
            "password": "a-long-staff-password",
            "csrfmiddlewaretoken": form.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    # The session cookie signs the next page in: the second factor's enrolment, which comes first.
    assert browser.get("/admin/")["Location"].startswith("/admin/console/second-factor/enrol/")
    assert browser.get("/admin/console/second-factor/enrol/").status_code == 200


def test_a_path_nobody_listed_gets_the_console_stack(staff_user):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert "Cookie" in response.get("Vary", "")  # sessions ran: a cache must not share this page


def test_api_calls_run_none_of_the_console_middleware(api, acme):
    token = issue_token(api, acme)
    for response in (
        request_token(api, acme),
        get_bflus(api, token),
        api.get("/auth/me", **bearer(token)),
        api.get("/healthz"),
        api.get("/.well-known/oauth-authorization-server"),
        api.get("/auth/nowhere"),
    ):
        assert response.status_code in (200, 404), response.content
        request = response.wsgi_request
        assert not hasattr(request, "session") and not hasattr(request, "_messages")
        assert "CSRF_COOKIE" not in request.META
        assert not response.cookies
        assert "Cookie" not in response.get("Vary", "")


def test_console_pages_run_all_of_it(client):
    request = client.get("/admin/login/").wsgi_request
    assert hasattr(request, "session") and hasattr(request, "_messages") and hasattr(request, "user")
    assert "CSRF_COOKIE" in request.META


def test_a_staff_session_cookie_gives_nothing_on_the_api(api, client, staff_user):
    client.force_login(staff_user)
    response = client.get("/auth/me")  # the staff member's session cookie, no Bearer token
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_deployment_check_wants_the_console_middleware_complete(settings):
    from django.core.management.base import SystemCheckError

    settings.CONSOLE_MIDDLEWARE = [name for name in settings.CONSOLE_MIDDLEWARE if "csrf" not in name]
    with pytest.raises(SystemCheckError, match=r"bfluence\.E002"):
        call_command("check")


def test_the_deployment_check_still_wants_a_secure_csrf_cookie(settings):
    from django.core.management.base import SystemCheckError

    settings.CSRF_COOKIE_SECURE = False
    with pytest.raises(SystemCheckError, match=r"security\.W016"):
        call_command("check", "--deploy", "--fail-level", "WARNING")
