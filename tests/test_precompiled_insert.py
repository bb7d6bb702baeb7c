"""Precompiled inserts write exactly the rows the ORM writes (issue 14).

The two rows of every token issue (its ``IssuedToken`` record and its ``token_issued`` audit row) are
written by a ``PrecompiledInsert``: Django's INSERT compiled once, values prepared per call by each
field's ``get_db_prep_save``. These tests compare what lands in the database, column by column as the
driver returns it, with what ``Model.objects.create`` writes for the same input, on whichever backend
the suite runs (SQLite, PostgreSQL).
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save
from django.utils import timezone as django_timezone

from audit.models import AuditEvent
from audit.services import Actor, audit_record, printable_client_id
from bfluence.precompiled import PrecompiledInsert
from bfluence.scrub import scrub, scrub_value
from communities.models import Community, Member
from tests.conftest import issue_token
from tokens.models import IssuedToken
from tokens.services.issuance import _issued_token_insert

pytestmark = pytest.mark.django_db

SECRET = "bfl_sk_" + "A1b2C3d4E5" * 4 + "F6g7H8i9J"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def stored(model, pk) -> dict:
    """The row as the database driver returns it, before any Django converter."""
    quote = connection.ops.quote_name
    columns = [field.column for field in model._meta.local_concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(map(quote, columns))} FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(model._meta.pk.column)} = %s",
            [pk],
        )
        return dict(zip(columns, cursor.fetchone(), strict=True))


def newest_audit_pk() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True)[0]


def orm_audit_record(
    *, event_type, actor, community=None, client_id="", jti="", source_ip=None, details=None
):
    """``audit_record`` as it was before it was precompiled: through ``AuditEvent.objects.create``."""
    return AuditEvent.objects.create(
        event_type=event_type,
        actor_type=actor.kind,
        actor=scrub(actor.name)[:200],
        community=community,
        client_id=printable_client_id(client_id or (community.client_id if community else "")),
        jti=jti,
        source_ip=source_ip or actor.source_ip,
        details=scrub_value(details or {}),
    )


AUDIT_CASES = {
    "token issued": lambda community: dict(
        event_type=AuditEvent.EventType.TOKEN_ISSUED,
        actor=Actor.partner(community.client_id),
        community=community,
        jti="0f" * 16,
        source_ip="2001:0DB8:0000::0001",  # stored in its canonical form, by the field
        details={
            "scope": "bflus:read",
            "expires_in": 900,
            "nested": {"pasted": f"my secret {SECRET} and {JWT}", "list": ["ünïcode ✓", 1.5, True, None]},
        },
    ),
    "refused, unknown client": lambda community: dict(
        event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED,
        actor=Actor.anonymous(),
        client_id="who\x00\nknows" + "x" * 200,
        source_ip="203.0.113.9",
        details={"reason": "invalid_client", "method": "client_secret"},
    ),
    "secret pasted as client_id": lambda community: dict(
        event_type=AuditEvent.EventType.CLIENT_AUTH_FAILED, actor=Actor.anonymous(), client_id=SECRET
    ),
    "staff, IP on the actor": lambda community: dict(
        event_type=AuditEvent.EventType.TOKEN_REVOKED,
        actor=Actor("staff", f"{JWT} " + "n" * 300, source_ip="::ffff:10.0.0.1"),
        community=community,
        details={"reason": f"token={JWT}"},
    ),
}


@pytest.mark.parametrize("case", AUDIT_CASES)
def test_audit_record_writes_the_row_the_orm_wrote(acme, case):
    arguments = AUDIT_CASES[case](acme.community)
    orm_pk = orm_audit_record(**arguments).pk
    before = django_timezone.now()
    audit_record(**arguments)
    after = django_timezone.now()
    fast_pk = newest_audit_pk()

    orm_row, fast_row = stored(AuditEvent, orm_pk), stored(AuditEvent, fast_pk)
    assert fast_pk != orm_pk and type(fast_row.pop("occurred_at")) is type(orm_row.pop("occurred_at"))
    assert fast_row.pop("id") == fast_pk
    orm_row.pop("id")
    assert fast_row == orm_row
    # Read back through the ORM: the same values, and the default time taken when the row was written.
    fast, orm = AuditEvent.objects.get(pk=fast_pk), AuditEvent.objects.get(pk=orm_pk)
    assert before <= fast.occurred_at <= after
    fields = [
        field.attname for field in AuditEvent._meta.concrete_fields if field.name not in {"id", "occurred_at"}
    ]
    assert {name: getattr(fast, name) for name in fields} == {name: getattr(orm, name) for name in fields}


def test_a_token_request_writes_both_rows_in_their_shape(api, acme):
    issue_token(api, acme)
    token, event = IssuedToken.objects.get(), AuditEvent.objects.get(event_type="token_issued")
    assert (token.community_id, token.client_secret_id) == (
        acme.community.pk,
        acme.community.secrets.get().pk,
    )
    assert (token.scope, token.source_ip, token.revoked_at) == ("bflus:read", "127.0.0.1", None)
    assert (event.actor_type, event.actor, event.client_id, event.jti) == (
        "partner",
        "acme",
        "acme",
        token.jti,
    )
    assert (event.community_id, event.source_ip) == (acme.community.pk, "127.0.0.1")
    assert event.details == {"scope": "bflus:read", "expires_in": 86400}


@pytest.mark.parametrize("with_secret", [True, False], ids=["secret", "no secret (nullable FK)"])
def test_the_issued_token_record_is_the_row_create_writes(acme, with_secret):
    issued_at = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    values = dict(
        community_id=acme.community.pk,
        client_secret_id=acme.community.secrets.get().pk if with_secret else None,
        scope="bflus:read members:read",
        issued_at=issued_at,
        expires_at=issued_at + timedelta(minutes=15),
        source_ip="2001:db8::0:1",
    )
    IssuedToken.objects.create(jti="orm", **values)
    _issued_token_insert.insert(jti="fast", **values)

    orm_row, fast_row = stored(IssuedToken, "orm"), stored(IssuedToken, "fast")
    assert (orm_row.pop("jti"), fast_row.pop("jti")) == ("orm", "fast")
    assert fast_row == orm_row
    fast = IssuedToken.objects.get(pk="fast")
    assert fast.issued_at == issued_at and fast.issued_at.tzinfo == UTC
    assert (fast.revoked_at, fast.revoked_by, fast.revocation_reason) == (None, "", "")  # the defaults


def test_a_failed_insert_marks_the_transaction_for_rollback_as_save_does(api, acme):
    issue_token(api, acme)
    jti = IssuedToken.objects.get().jti
    issued_at = django_timezone.now()
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            _issued_token_insert.insert(
                jti=jti, community_id=acme.community.pk, issued_at=issued_at, expires_at=issued_at
            )
        # Without the mark, SQLite would let the caller commit the rest of the transaction.
        assert transaction.get_connection().needs_rollback


def test_unknown_columns_and_values_made_on_save_are_refused(acme):
    with pytest.raises(TypeError, match="no column community"):
        _issued_token_insert.insert(jti="x", community=acme.community)
    with pytest.raises(
        ValueError, match="Community.entitlement_revision"
    ):  # db_default: made by the database
        PrecompiledInsert(Community)
    with pytest.raises(ValueError, match="Member.updated_at"):  # auto_now: made by save()
        PrecompiledInsert(Member)
    assert not IssuedToken.objects.exists()


def test_a_model_with_save_receivers_is_never_written_past_them(acme):
    def receiver(**kwargs):
        pass

    post_save.connect(receiver, sender=AuditEvent)
    try:
        with pytest.raises(RuntimeError, match="save receivers"):
            audit_record(event_type="token_issued", actor=Actor.partner("acme"), community=acme.community)
    finally:
        post_save.disconnect(receiver, sender=AuditEvent)
    audit_record(event_type="token_issued", actor=Actor.partner("acme"), community=acme.community)
    assert AuditEvent.objects.filter(event_type="token_issued").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_finished_threads_connection_is_not_kept_alive_by_compiled_inserts():
    import gc
    import threading
    import weakref

    from django.db import connections

    audit_insert = PrecompiledInsert(AuditEvent)
    kept = []

    def request_thread():
        audit_insert.insert(event_type="token_issued", actor_type="partner", actor="acme")
        kept.append(weakref.ref(connections["default"]))
        connections.close_all()  # what runserver does when a request's thread ends

    for _ in range(3):
        thread = threading.Thread(target=request_thread)
        thread.start()
        thread.join()
    gc.collect()
    assert len(kept) == 3 and [ref() for ref in kept] == [None, None, None]
    assert len(audit_insert._sql) == 1  # one entry per alias and vendor, not one per thread
    assert AuditEvent.objects.filter(actor="acme").count() == 3
