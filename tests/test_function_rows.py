"""The database functions against the paths they replace, with unusual values (a fresh-eyes review's
tests): the issuing function (tokens 0012) writes exactly the rows the ORM writes, and the planned-once
reads (bfluence/plan_cache.py) answer exactly as their SQL, for what an outsider may send."""

import uuid
import zoneinfo
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from tests.conftest import issue_token, make_community, request_token
from tokens.selectors import _token_with_member_query, live_token_get
from tokens.services.issuance import ClientCredentials, _issued_token_insert, client_authenticate
from tokens.services.issuing_statement import token_record_if_entitled

# --------------------------------------------------------------------------------------------------
# 1. The issuing function writes exactly the rows the ORM/transaction path writes.
# --------------------------------------------------------------------------------------------------

SAO_PAULO = zoneinfo.ZoneInfo("America/Sao_Paulo")
UNUSUAL = {
    "ipv4-mapped": dict(source_ip="::ffff:1.2.3.4"),
    "ipv6": dict(source_ip="2001:db8::1"),
    "ipv6 uncompressed": dict(source_ip="2001:0DB8:0000:0000:0000:0000:0000:0001"),
    "ipv6 zone id": dict(source_ip="fe80::1%eth0"),
    "ipv6 unspecified": dict(source_ip="::"),
    "no ip": dict(source_ip=None),
    "empty ip": dict(source_ip=""),
    "microseconds in another zone": dict(issued_at=datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=SAO_PAULO)),
    # Before 1914 Sao Paulo's offset is LMT, -03:06:28: an offset with seconds.
    "offset with seconds": dict(issued_at=datetime(1900, 1, 1, 12, 0, 0, 123456, tzinfo=SAO_PAULO)),
    "fixed offset": dict(
        issued_at=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt_timezone(timedelta(hours=14)))
    ),
    "non-ascii and control characters": dict(scope="bflus:read é 中 \u2028 \x01\x7f\t\n\\\"'"),
    "unusual details": dict(
        details={
            "nested": [1, 2.5, True, None, "ü\u2028\x01"],
            "big": 2**70,
            "small": 1e-7,
            "key\nwith newline": "x",
            "$1": "%s %% $bfluence$",
            "empty": "",
        }
    ),
}


def _client(created):
    return client_authenticate(
        credentials=ClientCredentials(created.community.client_id, created.client_secret),
        source_ip="127.0.0.1",
    )


def _row(table, where, value, drop):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_jsonb(t) - %s::text[] FROM {table} t WHERE {where} = %s", [drop, value])
        (row,) = cursor.fetchone()
    return row


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(UNUSUAL))
def test_issuing_function_writes_the_row_the_orm_writes(api, postgresql_only, case):
    created = make_community("unusual")
    request_token(api, created)  # last_used_at fresh
    client = _client(created)
    values = UNUSUAL[case]
    issued_at = values.get("issued_at", timezone.now())
    written = {}
    for path in ("function", "orm"):
        jti = f"{path}-{uuid.uuid4().hex}"
        record = {
            "jti": jti,
            "community_id": client.community.pk,
            "client_secret_id": client.secret_id,
            "scope": values.get("scope", "bflus:read"),
            "issued_at": issued_at,
            "expires_at": issued_at + timedelta(minutes=5),
            "source_ip": values.get("source_ip", "127.0.0.1"),
        }
        audit = {
            "event_type": "token_issued",
            "actor": Actor.partner(client.community.client_id),
            "community": client.community,
            "jti": jti,
            "source_ip": record["source_ip"],
            "details": values.get("details", {"scope": record["scope"]}),
        }
        if path == "function":
            assert token_record_if_entitled(
                community=client.community,
                secret_id=client.secret_id,
                secret_digest=(client.secret_row[0], client.secret_row[1]),
                key_id=None,
                now=timezone.now(),
                token_insert=_issued_token_insert,
                token=record,
                audit=audit,
            )
        else:
            _issued_token_insert.insert(**record)
            audit_record(**audit)
        written[path] = (
            _row("tokens_issuedtoken", "jti", jti, ["jti"]),
            _row("tokens_auditevent", "jti", jti, ["jti", "id", "occurred_at"]),
        )
    assert written["function"] == written["orm"]


# --------------------------------------------------------------------------------------------------
# 2. Planned-once reads: the function answers as its SQL would inside a transaction (STABLE snapshot).
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_revocation_earlier_in_the_same_transaction_is_seen(api, postgresql_only):
    created = make_community("snapshot")
    token = issue_token(api, created)
    import jwt

    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with transaction.atomic():
        from tokens.models import IssuedToken

        IssuedToken.objects.filter(jti=jti).update(revoked_at=timezone.now())
        assert live_token_get(jti=jti).revoked_at is not None


# --------------------------------------------------------------------------------------------------
# 3. Outsider-controlled member references answer the same through the function as through the SQL.
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reference",
    ["123", "'; DROP TABLE x; --", "\\", "%s", "%%", "$1", "é中", "\u2028", "a" * 300, "", " 123"],
)
def test_outsider_references_answer_as_the_sql(api, postgresql_only, reference):
    import jwt

    created = make_community("refs", members={"123": 1500})
    jti = jwt.decode(issue_token(api, created), options={"verify_signature": False})["jti"]
    compiled = _token_with_member_query._compiled_for(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, compiled.params((jti, reference)))
        by_sql = cursor.fetchall()
        cursor.execute(compiled.call, compiled.params((jti, reference)))
        by_function = cursor.fetchall()
    assert by_function == by_sql
