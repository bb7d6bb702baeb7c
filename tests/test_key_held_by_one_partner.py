"""One public key identifies one partner, in the database too: a key (RFC 7638 thumbprint) active for one
community cannot be active for a second, even when two staff members register it for two communities at
the same moment. The losing registration gets the refusal the service's own check gives, never a 500."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clients.keys import public_key_parse
from clients.models import ClientKey
from clients.services import client_key_add
from clients.services.keys import _client_key_insert
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import private_key, public_pem


def _row(community, key, kid) -> ClientKey:
    parsed = public_key_parse(public_pem(key))
    return ClientKey.objects.create(
        community=community,
        kid=kid,
        thumbprint=parsed.thumbprint,
        key_type=parsed.key_type,
        public_jwk=parsed.public_jwk,
    )


@pytest.mark.django_db
def test_the_database_refuses_one_key_active_for_two_communities():
    acme, globex = make_community("acme").community, make_community("globex").community
    key = private_key("ES256", fresh=True)
    _row(acme, key, "acme-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(globex, key, "globex-1")
    # Retired for acme, the key may serve globex (a partner that moved its key, say).
    ClientKey.objects.filter(community=acme).update(retired_at=timezone.now())
    _row(globex, key, "globex-1")
    assert ClientKey.objects.filter(retired_at__isnull=True).get().community == globex


@pytest.mark.django_db
def test_an_insert_that_meets_the_key_of_another_community_is_refused_in_words():
    """The insert step alone, as when another registration committed the key after this one's check."""
    acme, globex = make_community("acme").community, make_community("globex").community
    key = private_key("ES256", fresh=True)
    client_key_add(community=acme, key_text=public_pem(key), actor=TEST_ACTOR)
    with pytest.raises(ValidationError, match=r"já está registrada para acme community \(acme\)"):
        _client_key_insert(community=globex, parsed=public_key_parse(public_pem(key)))
    # Inside a savepoint: the surrounding transaction is still usable, and holds no row for globex.
    assert list(ClientKey.objects.values_list("community__client_id", flat=True)) == ["acme"]


def _registering_waits_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_two_registrations_of_one_key_at_the_same_moment_let_one_in(postgresql_only):
    """globex's registration checks while acme's row is written but not committed, so its check passes;
    its insert waits on the unique index, and once acme's commits, it is refused in the usual words."""
    acme, globex = make_community("acme").community, make_community("globex").community
    key = private_key("ES256", fresh=True)
    written, outcome = threading.Event(), {}

    def register_for_globex():
        try:
            written.wait(10)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            client_key_add(community=globex, key_text=public_pem(key), actor=TEST_ACTOR)
        except ValidationError as error:
            outcome["refused"] = " ".join(error.messages)
        finally:
            connection.close()

    other = threading.Thread(target=register_for_globex)
    other.start()
    with transaction.atomic():
        _row(acme, key, "acme-1")
        written.set()
        deadline = time.monotonic() + 10
        while other.is_alive() and not ("pid" in outcome and _registering_waits_on_a_lock(outcome["pid"])):
            assert time.monotonic() < deadline, "globex's registration never reached the unique index"
            time.sleep(0.02)
    other.join(10)
    assert "já está registrada para acme community (acme)" in outcome.get("refused", "")
    assert list(ClientKey.objects.values_list("community__client_id", flat=True)) == ["acme"]
