"""Database queries per request, pinned. A change here is a change in cost.

Counts are inside the test's transaction, so an atomic block adds its SAVEPOINT and RELEASE.
"""

import pytest
from django.db import connection

from audit.models import AuditEvent
from clients.crypto import generate_secret
from communities.models import Community
from tests.conftest import bearer, get_bflus, issue_token, request_token

pytestmark = pytest.mark.django_db


# The issuing transaction's shared lock on the community row is one statement on PostgreSQL; SQLite has
# no row locks (and serialises writers), so there it is not sent.
LOCK_STATEMENTS = 1 if connection.vendor == "postgresql" else 0


def test_token_issue_costs_three_reads_and_three_writes(api, acme, django_assert_num_queries):
    # secrets compared; the secret's community and policy read; savepoint; community row locked
    # (PostgreSQL), then secret, community and policy read again; insert token; insert audit row; update
    # last-used; release
    with django_assert_num_queries(8 + LOCK_STATEMENTS) as captured:
        assert request_token(api, acme).status_code == 200
    locking = [query["sql"] for query in captured.captured_queries if " FOR " in query["sql"]]
    assert [sql.endswith(" FOR SHARE") for sql in locking] == [True] * LOCK_STATEMENTS


def test_a_second_token_within_a_minute_skips_the_last_used_write(api, acme, django_assert_num_queries):
    request_token(api, acme)
    with django_assert_num_queries(7 + LOCK_STATEMENTS):
        assert request_token(api, acme).status_code == 200


def test_failed_client_authentication_costs_one_read_and_one_audit_write(
    api, acme, django_assert_num_queries
):
    with django_assert_num_queries(2):
        response = api.post(
            "/auth/token", {"client_id": "acme", "client_secret": generate_secret()}, format="json"
        )
    assert response.status_code == 401


def test_a_real_secret_refused_costs_the_reads_of_a_current_one(api, acme, django_assert_num_queries):
    # digests compared; the matched secret's community and policy read (which also says why it entitles
    # nothing: the community is inactive); the audit row naming the community. No read to find out why.
    Community.objects.filter(pk=acme.community.pk).update(is_active=False)
    with django_assert_num_queries(3):
        response = api.post(
            "/auth/token", {"client_id": "acme", "client_secret": acme.client_secret}, format="json"
        )
    assert response.status_code == 401
    row = AuditEvent.objects.filter(event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED).get()
    assert (row.community_id, row.details["reason"]) == (acme.community.pk, "community_inactive")


def test_get_bflus_reads_token_and_member_in_one_query(api, acme, django_assert_num_queries):
    token = issue_token(api, acme)
    with django_assert_num_queries(1):
        assert get_bflus(api, token).json()["bflus"] == 1500
    with django_assert_num_queries(1):
        assert get_bflus(api, token, client="999").status_code == 404


def test_get_bflus_with_an_impossible_member_reference_still_checks_the_token(
    api, acme, django_assert_num_queries
):
    token = issue_token(api, acme)
    with django_assert_num_queries(1):
        assert get_bflus(api, token, client="a" * 90).status_code == 404


def test_me_costs_only_the_revocation_check(api, acme, django_assert_num_queries):
    token = issue_token(api, acme)
    with django_assert_num_queries(1):
        assert api.get("/auth/me", **bearer(token)).status_code == 200


def test_a_forged_token_costs_no_query(api, acme, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert get_bflus(api, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln").status_code == 401


def test_health_probe_costs_no_query(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api.get("/healthz").status_code == 200
