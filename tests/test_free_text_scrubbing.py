"""Secrets and tokens pasted into free text are scrubbed before they are stored or logged (SPEC §2.7, §5).

Reasons given by partners, operators and staff land in the audit trail, the token records and the
revocation requests, which every support account can read. One scrubber (``bfluence.scrub``) cleans
them all, and the log redaction filter uses the very same one.
"""

import base64
import io
import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from audit.services import Actor
from bfluence.log_filters import RedactCredentials
from bfluence.scrub import scrub
from clients.services import secret_rotate
from communities.services import community_reactivate
from tests.conftest import TEST_ACTOR, issue_token, make_community
from tests.test_admin import form_key
from tokens.models import IssuedToken, RevocationRequest
from tokens.services import community_deactivate, tokens_revoke, tokens_revoke_all

pytestmark = pytest.mark.django_db

# A JWT-shaped string that is not ours (its header does not start with "eyJ"): still a bearer credential.
FOREIGN_JWT = "ewogICJhbGciOiAiUlMyNTYiIH0.ewogICJzdWIiOiAiYWxpY2UiIH0.c2lnbmF0dXJlLW9mLXNvbWVvbmUtZWxzZQ"


def whole_database() -> str:
    """``manage.py dumpdata``: every table of every app, as the operator's backup would hold it."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def pasted(secret: str, token: str) -> str:
    return f"leaked: {secret} and Bearer {token} (also {secret[len('bfl_sk_') :]}, {FOREIGN_JWT})"


def test_no_pasted_secret_or_token_survives_anywhere_in_the_database(api, acme, globex, client):
    acme_token, globex_token = issue_token(api, acme), issue_token(api, globex)
    spare = issue_token(api, globex)
    text_acme, text_globex = (
        pasted(acme.client_secret, acme_token),
        pasted(globex.client_secret, globex_token),
    )

    # Staff, through the console: a revocation request taken by phone, and a token revoked with a reason.
    staff = User.objects.create_superuser("root", password="x")
    client.force_login(staff)
    response = client.post(
        reverse("admin:tokens_revocationrequest_add"),
        {
            "community": globex.community.pk,
            "reason": text_globex,
            "form_key": form_key(client, reverse("admin:tokens_revocationrequest_add")),
        },
    )
    assert response.status_code == 302
    tokens_revoke(
        community=globex.community,
        jtis=[IssuedToken.objects.filter(community=globex.community).latest("issued_at").jti],
        actor=Actor.staff(staff),
        reason=pasted(globex.client_secret, spare),
    )
    # ... and a request completed in the console, the reason pasted with evidence (Django's admin log).
    pending = RevocationRequest.objects.get(community=globex.community, status="pending")
    other_staff = User.objects.create_superuser("other", password="x")
    client.force_login(other_staff)
    handle = reverse("admin:tokens_revocationrequest_handle", args=[pending.pk])
    client.post(
        handle,
        {
            "reason": f"evidence: {globex.client_secret} {FOREIGN_JWT}"[:500],
            "form_key": form_key(client, handle),
        },
    )
    assert RevocationRequest.objects.get(pk=pending.pk).status == "done"
    assert LogEntry.objects.filter(change_message__contains="[redacted").exists()
    # Operators, through commands.
    call_command("rotate_secret", "globex", "--reason", text_globex, stdout=io.StringIO())
    call_command("revoke_tokens", "globex", "--all", "--reason", text_globex, stdout=io.StringIO())
    call_command("deactivate_community", "globex", "--reason", text_globex, stdout=io.StringIO())
    community_reactivate(community=globex.community, actor=TEST_ACTOR, reason=text_globex)
    # The partner itself, reporting the compromise with the evidence pasted in.
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": text_acme},
        format="json",
    )
    assert response.status_code == 202

    dumped = whole_database()
    assert "revocation request" in dumped and "[redacted" in dumped  # the reasons are there, cleaned
    for secret in (acme.client_secret, globex.client_secret):
        assert secret not in dumped
        assert secret[len("bfl_sk_") :] not in dumped
    for token in (acme_token, globex_token, spare, FOREIGN_JWT):
        for part in token.split("."):
            assert part not in dumped


def test_service_level_reasons_are_scrubbed_too(acme):
    token_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abcdefghijklmnopqrstuvwxyz012345"
    secret_rotate(community=acme.community, actor=TEST_ACTOR, reason=f"old one was {acme.client_secret}")
    tokens_revoke_all(community=acme.community, actor=TEST_ACTOR, reason=token_like)
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason=token_like)
    dumped = whole_database()
    assert acme.client_secret not in dumped and "abcdefghijklmnopqrstuvwxyz012345" not in dumped


def test_a_community_name_is_free_text_too(db):
    created = make_community("namy")
    from communities.services import community_update

    community_update(
        community=created.community,
        actor=TEST_ACTOR,
        name=f"Namy {created.client_secret}",
        permissions=[],
        token_lifetime=None,
    )
    assert created.client_secret not in whole_database()


@pytest.mark.parametrize(
    "text, kept",
    [
        ("no secrets here, just a jti 0f3c9e5a2b7d4c1e8f6a9b0c3d2e1f4a", "0f3c9e5a2b7d4c1e8f6a9b0c3d2e1f4a"),
        ("see https://docs.example.com/a.b.c and v1.2.3", "https://docs.example.com/a.b.c and v1.2.3"),
        ("ticket SUP-1234: partner called at 14:05", "ticket SUP-1234: partner called at 14:05"),
    ],
)
def test_ordinary_text_is_left_alone(text, kept):
    assert kept in scrub(text)


def test_the_log_filter_uses_the_same_scrubber(acme):
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "reason=%s", (FOREIGN_JWT + " " + acme.client_secret,), None
    )
    assert RedactCredentials().filter(record)
    assert record.getMessage() == "reason=" + scrub(FOREIGN_JWT + " " + acme.client_secret)
    assert FOREIGN_JWT.split(".")[2] not in record.getMessage()
    assert acme.client_secret not in record.getMessage()


@pytest.mark.parametrize(
    "text",
    [
        "plain words, nothing to hide",
        "BASIC " + "QWxhZGRpbjpvcGVuIHNlc2FtZQ" * 2,  # the scheme in any case
        "see Access_Token=abc&x=1 and CLIENT_SECRET=xyz",  # the field names in any case
        "bfl_sk_AbCdEfGh and eyJhbGciOi.eyJzdWIi.sig",
        FOREIGN_JWT,
        "a" * 49,
        "b" * 50,  # 50 characters: not a secret's body
        "Basic " + "Q" * 39 + "\u212a",  # the Kelvin sign folds to "k": redacted as ever
    ],
)
def test_the_one_pass_check_never_skips_what_the_substitutions_would_change(text):
    """``scrub`` first looks for any redaction in one search and returns clean text as it is: that check
    must find everything the six substitutions change (case-insensitive parts included)."""
    from bfluence.scrub import _REDACTIONS

    substituted = text
    for pattern, replacement in _REDACTIONS:
        substituted = pattern.sub(replacement, substituted)
    assert scrub(text) == substituted
    assert "[redacted" in substituted or text.startswith(("plain", "b"))


def test_a_pasted_http_basic_header_is_scrubbed(api, acme):
    """Partners paste ``curl -v`` output into a compromise report: ``Authorization: Basic`` is the
    client_id and secret, only base64-encoded, and was stored in clear for every support account."""
    pair = base64.b64encode(f"acme:{acme.client_secret}".encode()).decode()
    reason = f"> POST /auth/token HTTP/1.1\n> Authorization: Basic {pair}\n> Accept: */*"
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": reason},
        format="json",
    )
    assert response.status_code == 202
    dumped = whole_database()
    assert "Authorization: Basic [redacted]" in dumped
    assert pair not in dumped and pair[8:40] not in dumped
    assert scrub(f"authorization: basic {pair}") == "authorization: basic [redacted]"


def test_the_word_basic_in_ordinary_text_is_left_alone():
    text = "basic information: the partner's basic plan, Basic auth fails since 14:05"
    assert scrub(text) == text


def test_a_secret_body_sent_as_client_id_never_reaches_the_audit_trail(api, acme):
    """The failed attempt's row keeps the client_id as given: a secret without its ``bfl_sk_`` prefix
    (a partner trimming it, fields swapped) was stored there in clear, readable by every support account."""
    body = acme.client_secret[len("bfl_sk_") :]
    response = api.post(
        "/auth/token", {"client_id": body, "client_secret": acme.client_secret}, format="json"
    )
    assert response.status_code == 401
    dumped = whole_database()
    assert "[redacted-secret]" in dumped
    assert body not in dumped
