"""Leaked secrets reported by a secret scanner (SPEC §2.9): a signed report suspends exactly the
reported secret and revokes its community's tokens; an unsigned, badly signed, altered or malformed one
changes nothing; false positives are labelled; the reported token is stored and logged nowhere."""

import hashlib
import io
import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from clients import crypto
from clients.models import ClientSecret
from leaks import keys
from leaks.keys import forget_keys
from notifications.models import Notification
from notifications.services import security_contacts_set
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, make_community, request_token
from tests.scanning import KeyServer, item, new_key, report, sign
from tokens.models import IssuedToken, RevocationRequest
from tokens.services import community_rotate_secret

pytestmark = pytest.mark.django_db
PATH = "/security/secret-scanning"


@pytest.fixture
def scanner(settings):
    key = new_key()
    server = KeyServer({"key-1": key})
    settings.SECRET_SCANNING_KEYS_URL = server.url
    settings.SECRET_SCANNING_KEYS_FILE = ""
    forget_keys()
    server.key = key
    yield server
    server.stop()
    forget_keys()


def post(api, body: bytes, *, key, key_id="key-1", signature=None):
    headers = {}
    if key_id is not None:
        headers["HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER"] = key_id
    if key is not None or signature is not None:
        headers["HTTP_GITHUB_PUBLIC_KEY_SIGNATURE"] = signature or sign(key, body)
    return api.generic("POST", PATH, body, content_type="application/json", **headers)


def state() -> tuple:
    """Everything a report may change."""
    return (
        sorted(ClientSecret.objects.values_list("pk", "valid_until", "reported_leaked_at")),
        IssuedToken.objects.filter(revoked_at__isnull=False).count(),
        RevocationRequest.objects.count(),
        Notification.objects.count(),
    )


def test_reported_secret_is_suspended_and_its_tokens_revoked(api, scanner, acme, globex):
    token = issue_token(api, acme)
    other = issue_token(api, globex)
    url = "https://github.com/octo/leak/blob/main/.env"
    response = post(api, report(item(acme.client_secret, url)), key=scanner.key)
    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "token_hash": hashlib.sha256(acme.client_secret.encode()).hexdigest(),
            "token_type": "bfluence_client_secret",
            "label": "true_positive",
        }
    ]
    assert request_token(api, acme).status_code == 401
    assert get_bflus(api, token).status_code == 401
    assert get_bflus(api, other).status_code == 200  # nobody else touched
    assert request_token(api, globex).status_code == 200
    opened = RevocationRequest.objects.get(community=acme.community)
    assert (opened.source, opened.evidence_url, opened.status) == ("secret_scanning", url, "pending")
    assert (opened.secrets_suspended, opened.tokens_revoked) == (1, 1)
    leak = AuditEvent.objects.get(event_type="secret_leak_reported")
    assert (leak.community_id, leak.actor_type, leak.details["url"]) == (acme.community.pk, "scanner", url)


def test_only_the_reported_secret_stops_when_a_rotation_left_two(api, scanner, acme):
    rotation = community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=1))
    old, new = acme.client_secret, rotation.client_secret
    response = post(api, report(item(old)), key=scanner.key)
    assert response.json()[0]["label"] == "true_positive"
    assert request_token(api, acme).status_code == 401
    assert (
        api.post("/auth/token", {"client_id": "acme", "client_secret": new}, format="json").status_code == 200
    )
    assert RevocationRequest.objects.get().secrets_suspended == 1


def test_false_positives_are_labelled_and_change_nothing(api, scanner, acme):
    unknown = crypto.generate_secret()  # well formed, checksum right, not ours
    typo = acme.client_secret[:-1] + ("A" if acme.client_secret[-1] != "A" else "B")
    expired = make_community("expired")
    community_rotate_secret(community=expired.community, actor=TEST_ACTOR)  # its first secret ends now
    before = state()
    body = report(item(unknown), item(typo), item("ghp_notours"), item(expired.client_secret))
    response = post(api, body, key=scanner.key)
    assert response.status_code == 200
    assert [entry["label"] for entry in response.json()] == ["false_positive"] * 4
    assert [entry["token_hash"] for entry in response.json()] == [
        hashlib.sha256(token.encode()).hexdigest()
        for token in (unknown, typo, "ghp_notours", expired.client_secret)
    ]
    assert state() == before


def test_the_same_report_twice_suspends_once(api, scanner, acme):
    body = report(item(acme.client_secret))
    first, second = post(api, body, key=scanner.key), post(api, body, key=scanner.key)
    assert first.json() == second.json()
    assert second.json()[0]["label"] == "true_positive"
    assert RevocationRequest.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="secret_leak_reported").count() == 1


def test_a_secret_made_before_lookup_digests_is_still_found(api, scanner, acme):
    ClientSecret.objects.filter(community=acme.community).update(lookup="")
    response = post(api, report(item(acme.client_secret)), key=scanner.key)
    assert response.json()[0]["label"] == "true_positive"
    assert request_token(api, acme).status_code == 401


@pytest.mark.parametrize(
    "case",
    ["wrong_key", "unknown_key_id", "altered_body", "no_signature", "no_key_id", "garbage_signature"],
)
def test_an_unsigned_or_badly_signed_report_changes_nothing(api, scanner, acme, case):
    body = report(item(acme.client_secret))
    before = state()
    if case == "wrong_key":
        response = post(api, body, key=new_key())
    elif case == "unknown_key_id":
        response = post(api, body, key=scanner.key, key_id="key-2")
    elif case == "altered_body":  # a genuine report replayed with another token in it
        genuine = report(item("bfl_sk_not_this"))
        response = post(api, body, key=None, signature=sign(scanner.key, genuine))
    elif case == "no_signature":
        response = post(api, body, key=None)
    elif case == "no_key_id":
        response = post(api, body, key=scanner.key, key_id=None)
    else:
        response = post(api, body, key=None, signature="not base64 at all!")
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_signature"
    assert state() == before
    assert request_token(api, acme).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"token": "x"}',
        b"not json",
        b'[{"token": 5, "type": "t", "url": "u", "source": "s"}]',
        b'[{"token": "x"}]',
        b'["bfl_sk_x"]',
        b'[{"token": "\\u0000", "type": "t", "url": "u", "source": "s"}]',
        b'[{"token": "\\ud800", "type": "t", "url": "u", "source": "s"}]',
        b"\xff\xfe",
    ],
)
def test_a_signed_report_that_is_not_an_array_of_items_is_refused(api, scanner, acme, body):
    before = state()
    response = post(api, body, key=scanner.key)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
    assert state() == before


def test_a_body_over_one_mebibyte_is_refused(api, scanner, acme):
    body = report(*[item(acme.client_secret)] * 12000)
    assert len(body) > 1024 * 1024
    response = post(api, body, key=scanner.key)
    assert response.status_code == 413
    assert request_token(api, acme).status_code == 200


def test_the_key_list_is_fetched_again_for_an_unknown_key_at_most_once_a_minute(api, scanner, acme):
    body = report(item("ghp_x"))
    assert post(api, body, key=scanner.key).status_code == 200
    assert scanner.fetches == 1
    assert post(api, body, key=scanner.key).status_code == 200
    assert scanner.fetches == 1  # cached
    rotated = new_key()
    scanner.keys["key-2"] = rotated
    with time_machine.travel(timezone.now(), tick=True):
        assert post(api, body, key=rotated, key_id="key-2").status_code == 401  # fetched < 1 min ago
    assert scanner.fetches == 1
    keys._fetched.fetched_at -= keys.REFETCH_AT_MOST_EVERY  # a minute later (monotonic clock)
    assert post(api, body, key=rotated, key_id="key-2").status_code == 200
    assert scanner.fetches == 2
    assert post(api, body, key=rotated, key_id="key-3").status_code == 401  # unknown, and just fetched
    assert scanner.fetches == 2


def test_an_unreachable_key_list_refuses_reports_and_changes_nothing(api, settings, acme):
    settings.SECRET_SCANNING_KEYS_URL = "http://127.0.0.1:9/nothing-listens-here"
    forget_keys()
    before = state()
    response = post(api, report(item(acme.client_secret)), key=new_key())
    assert (response.status_code, response.json()["error"]) == (401, "invalid_signature")
    assert state() == before
    forget_keys()


def test_keys_from_a_file(api, settings, tmp_path, acme):
    from tests.scanning import key_list

    key = new_key()
    (tmp_path / "keys.json").write_bytes(key_list({"file-key": key}))
    settings.SECRET_SCANNING_KEYS_FILE = str(tmp_path / "keys.json")
    assert post(api, report(item("ghp_x")), key=key, key_id="file-key").status_code == 200
    assert post(api, report(item("ghp_x")), key=key, key_id="other").status_code == 401


def test_the_partner_is_told_and_the_token_is_nowhere(api, scanner, acme, caplog):
    security_contacts_set(
        community=acme.community, actor=TEST_ACTOR, emails=[("sec@acme.example", "en")], webhook_url=""
    )
    caplog.set_level(logging.DEBUG)
    secret = acme.client_secret
    assert post(api, report(item(secret)), key=scanner.key).json()[0]["label"] == "true_positive"
    told = Notification.objects.get(community=acme.community)
    assert (told.event_type, told.recipient) == ("secret.leaked", "sec@acme.example")
    assert told.data["found_at"] == "https://github.com/octo/leak/blob/main/.env"
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    body = secret[len("bfl_sk_") :]
    assert body not in dump.getvalue()
    assert body not in caplog.text
    assert json.dumps(secret) not in dump.getvalue()
