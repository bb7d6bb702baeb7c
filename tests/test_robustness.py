"""Small robustness defects (issue 10 items 12 and 13): odd digits, absurd settings, chunked bodies,
development keys, and client_ids that differ only in letter case."""

import hashlib
import io
import re
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse

from communities.models import Community, Member
from tests.conftest import make_community
from tests.test_admin import form_key
from tests.test_settings import ROOT, start

# --- set_bflus: ASCII digits only ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["²", "١٢٣", "１２３", "12 ", "+5", "-1", "1e3", "0x10", ""])
def test_set_bflus_refuses_anything_but_ascii_digits_cleanly(acme, amount):
    with pytest.raises(CommandError, match="AMOUNT"):
        call_command("set_bflus", "acme", "123", amount, stdout=io.StringIO())
    assert Member.objects.get(community=acme.community, reference="123").bflus == 1500


def test_set_bflus_with_a_superscript_digit_exits_non_zero_without_a_traceback():
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "set_bflus", "acme", "123", "²"],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "bfluence.settings_test",
            "PYTHONPATH": str(ROOT),
            "BFLUENCE_READ_DOTENV": "false",
        },
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "AMOUNT" in result.stderr


# --- absurd settings refused at start-up ----------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"ACCESS_TOKEN_LIFETIME": "31d"}, "ACCESS_TOKEN_LIFETIME"),
        ({"ACCESS_TOKEN_LIFETIME": "300000d"}, "ACCESS_TOKEN_LIFETIME"),
        ({"ACCESS_TOKEN_LIFETIME": "999999999d"}, "ACCESS_TOKEN_LIFETIME"),
        ({"JWT_LEEWAY": "ten"}, "JWT_LEEWAY"),
        ({"JWT_LEEWAY": "-1"}, "JWT_LEEWAY"),
        ({"THROTTLE_TOKEN_CLIENT": "ten/min"}, "THROTTLE_TOKEN_CLIENT"),
        ({"THROTTLE_TOKEN_IP": "100/fortnight"}, "THROTTLE_TOKEN_IP"),
        ({"THROTTLE_TOKEN_FAILURES": "10"}, "THROTTLE_TOKEN_FAILURES"),
        ({"THROTTLE_API": "１０/min"}, "THROTTLE_API"),
        ({"THROTTLE_API": "0/min"}, "THROTTLE_API"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "ab" * 30}, "SECRET_KEY"),  # long, but five different characters at least
    ],
)
def test_absurd_settings_stop_start_up_with_a_clear_message(overrides, says):
    result = start(BFLUENCE_READ_DOTENV="false", **overrides)
    assert result.returncode != 0
    assert "Bfluence cannot start" in result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr.split("ImproperlyConfigured")[-1]


@pytest.mark.parametrize(
    "rate", ["60/min", "5/s", "100/second", "300/m", "10/h", "1000/hour", "9/d", "2/day"]
)
def test_every_documented_rate_form_starts(rate):
    result = start(BFLUENCE_READ_DOTENV="false", THROTTLE_TOKEN_CLIENT=rate, ACCESS_TOKEN_LIFETIME="30d")
    assert result.returncode == 0, result.stderr


def _signing_key_digest(**overrides) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bfluence.settings",
        "BFLUENCE_READ_DOTENV": "false",
        **overrides,
    }
    code = (
        "import hashlib; from django.conf import settings; "
        "print(hashlib.sha256(settings.SIMPLE_JWT['SIGNING_KEY'].encode()).hexdigest())"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=env,
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_without_a_jwt_key_never_signs_with_a_public_constant():
    first, second = _signing_key_digest(DEBUG="true"), _signing_key_digest(DEBUG="true")
    assert first != second  # generated per process: nothing published in the repo can forge its tokens
    old_constant = "insecure-development-only-jwt-signing-key-0123456789"
    assert hashlib.sha256(old_constant.encode()).hexdigest() not in (first, second)


# --- chunked request bodies -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chunked_body_without_content_length_is_answered_411(api, acme):
    """gunicorn hands a chunked body over without CONTENT_LENGTH; Django would read it as empty and
    answer "client_id and client_secret are required". Say what is wrong instead."""
    response = api.generic(
        "POST",
        "/auth/token",
        b'{"client_id": "acme"}',
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "Content-Length" in body["error_description"]


@pytest.mark.django_db
def test_a_body_with_content_length_is_read_as_before(api, acme):
    response = api.post(
        "/auth/token", {"client_id": "acme", "client_secret": acme.client_secret}, format="json"
    )
    assert response.status_code == 200


# --- client_ids that differ only in letter case ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["ACME", "Acme", "acmE"])
def test_create_community_refuses_a_client_id_equal_ignoring_case(acme, variant):
    with pytest.raises(CommandError, match="already|Já existe"):
        call_command("create_community", "--client-id", variant, "--name", "Impostor", stdout=io.StringIO())
    assert list(Community.objects.values_list("client_id", flat=True)) == ["acme"]


@pytest.mark.django_db
def test_the_database_itself_refuses_a_case_variant(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        Community.objects.create(client_id="ACME", name="Impostor")


@pytest.mark.django_db
def test_the_console_refuses_a_case_variant_with_a_form_error(client, acme):
    client.force_login(User.objects.create_superuser("root", password="x"))
    page = reverse("admin:communities_community_add")
    response = client.post(
        page,
        {
            "client_id": "ACME",
            "name": "Impostor",
            "permissions": ["bflus:read"],
            "form_key": form_key(client, page),
        },
    )
    assert response.status_code == 200
    assert re.search("already exists|Já existe", response.content.decode())
    assert Community.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["newco\n", "newco\r\n", " newco"])
def test_a_client_id_with_a_trailing_newline_or_space_is_refused(client_id):
    with pytest.raises(CommandError):
        call_command("create_community", "--client-id", client_id, "--name", "X", stdout=io.StringIO())
    assert not Community.objects.exists()


@pytest.mark.django_db
def test_different_client_ids_still_coexist():
    make_community("acme")
    make_community("acme-2")
    assert Community.objects.count() == 2
