"""Secrets stay secret (SPEC §5): never stored in plaintext, never logged, never shown twice."""

import logging

import pytest
from django.core import serializers
from django.db import connection

from audit.models import AuditEvent
from bfluence.log_format import JsonLogFormatter
from clients import crypto
from clients.models import ClientSecret
from tests.conftest import basic, issue_token, post_form
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db


def everything_in_the_database() -> str:
    """Every row of every table of ours, as text."""
    from django.apps import apps

    rows = []
    for label in ("communities", "tokens"):
        for model in apps.get_app_config(label).get_models():
            rows.append(serializers.serialize("json", model.objects.all()))
    return "\n".join(rows)


def test_secret_and_tokens_appear_nowhere_but_in_their_one_response(api, acme, globex, caplog):
    caplog.set_level(logging.DEBUG)
    token = issue_token(api, acme)
    api.post("/auth/token", {"client_id": "acme", "client_secret": globex.client_secret}, format="json")
    api.post(
        "/auth/token", {"client_id": acme.client_secret, "client_secret": acme.client_secret}, format="json"
    )
    post_form(
        api, "/auth/token", {"grant_type": "client_credentials"}, **basic("acme", acme.client_secret[:-2])
    )
    api.get(f"/communities/hub/client/123/get-bflus?access_token={token}")
    api.get("/communities/hub/client/123/get-bflus", HTTP_AUTHORIZATION=f"Bearer {token}x")
    api.post(
        "/auth/revoke",
        {"client_id": "acme", "client_secret": acme.client_secret, "token": token},
        format="json",
    )

    stored = everything_in_the_database()
    # Every record as the production formatter writes it out: message and structured fields.
    logged = "\n".join(JsonLogFormatter().format(record) for record in caplog.records)
    for secret in (acme.client_secret, globex.client_secret):
        assert secret not in stored
        assert secret not in logged
        assert secret[len(crypto.PREFIX) :] not in stored
    assert token not in stored and token not in logged
    assert token.split(".")[2] not in logged
    assert any(
        getattr(record, "outcome", None) == "denied" for record in caplog.records
    )  # logged, minus secrets


def test_a_secret_pasted_as_client_id_is_redacted_in_the_audit_trail(api, acme):
    api.post(
        "/auth/token", {"client_id": acme.client_secret, "client_secret": acme.client_secret}, format="json"
    )
    event = AuditEvent.objects.get(event_type="client_auth_failed")
    assert acme.client_secret not in event.client_id
    assert event.client_id.startswith("bfl_sk_")


def test_only_a_salted_digest_and_a_short_hint_are_stored(acme):
    stored = ClientSecret.objects.get(community=acme.community)
    assert stored.digest != crypto.digest_secret(acme.client_secret).digest  # salted: a fresh salt differs
    assert crypto.secret_matches(acme.client_secret, salt=stored.salt, digest=stored.digest)
    assert acme.client_secret.startswith(stored.hint.rstrip("…"))
    assert len(stored.hint.rstrip("…")) <= 11


def test_str_and_repr_never_show_a_secret(api, acme):
    token = issue_token(api, acme)
    stored = ClientSecret.objects.get(community=acme.community)
    record = IssuedToken.objects.get()
    shown = " ".join(
        [
            str(stored),
            repr(stored),
            str(record),
            repr(record),
            repr(acme),
            str(acme.community),
            repr(crypto.digest_secret(acme.client_secret)),
        ]
    )
    assert acme.client_secret not in shown
    assert stored.digest not in shown and stored.salt not in shown
    assert token not in shown


def test_generated_secrets_are_well_formed_and_unique():
    secrets = {crypto.generate_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert secret.startswith("bfl_sk_") and len(secret) == crypto.SECRET_LENGTH
        assert crypto.is_well_formed(secret)


def test_a_single_typo_fails_the_checksum():
    secret = crypto.generate_secret()
    position = len(crypto.PREFIX) + 5
    typo = secret[:position] + ("A" if secret[position] != "A" else "B") + secret[position + 1 :]
    assert not crypto.is_well_formed(typo)


def test_a_secret_with_a_bad_checksum_is_refused_without_touching_the_database(
    api, acme, django_assert_num_queries
):
    bad = acme.client_secret[:-1] + ("A" if acme.client_secret[-1] != "A" else "B")
    with django_assert_num_queries(0):
        response = api.post("/auth/token", {"client_id": "acme", "client_secret": bad}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_stored_digest_sent_as_the_secret_is_refused(api, acme):
    stored = ClientSecret.objects.get(community=acme.community)
    for candidate in (stored.digest, f"{crypto.PREFIX}{stored.digest}"):
        response = api.post("/auth/token", {"client_id": "acme", "client_secret": candidate}, format="json")
        assert response.status_code == 401


def test_secret_tables_have_no_plaintext_column():
    columns = {
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), ClientSecret._meta.db_table
        )
    }
    assert columns == {
        "id",
        "community_id",
        "hint",
        "salt",
        "digest",
        "created_at",
        "valid_until",
        "last_used_at",
        "lookup",  # a keyed HMAC of the secret (clients.crypto.lookup_digest), never the secret
        "reported_leaked_at",
    }
