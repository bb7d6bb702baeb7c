"""A compromise report stops the leaked secret at once, for good (SPEC §2.7), and no token can slip past a
secret rotation or a deactivation that happens while it is being issued (issue 10 items 4 and 7)."""

import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import ClientSecret
from clients.services import NewCommunity, PolicyChange, client_auth_policy_set, secret_rotate
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, request_token
from tests.test_admin import form_key
from tokens import views as token_views
from tokens.models import IssuedToken, RevocationRequest
from tokens.services import community_rotate_secret, revocation_request_handle

pytestmark = pytest.mark.django_db


def report(api, created, reason="our server was breached"):
    return api.post(
        "/auth/revocation-requests",
        {"client_id": created.community.client_id, "client_secret": created.client_secret, "reason": reason},
        format="json",
    )


def as_partner(community, secret) -> NewCommunity:
    return NewCommunity(community=community, client_secret=secret)


# --- item 4: the report suspends every current secret ------------------------------------------------


def test_a_report_suspends_every_current_secret_at_once(api, acme):
    """During a rotation window the community holds two valid secrets: the report stops both."""
    token = issue_token(api, acme)
    rotation = secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=7))
    newer = as_partner(acme.community, rotation.client_secret)

    response = report(api, newer)

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["tokens_revoked"], body["secrets_suspended"]) == ("pending", 1, 2)
    assert RevocationRequest.objects.get(pk=body["id"]).secrets_suspended == 2
    for holder in (acme, newer):  # whoever holds either secret can mint nothing any more
        assert request_token(api, holder).status_code == 401
        assert report(api, holder).status_code == 401
    assert get_bflus(api, token).status_code == 401
    opened = AuditEvent.objects.get(event_type="revocation_request_opened")
    assert opened.details["secrets_suspended"] == 2


def test_a_suspended_secret_never_works_again(api, acme):
    report(api, acme)
    # An operator rotates by command, even offering a grace window: the reported secret stays dead.
    out = io.StringIO()
    call_command("rotate_secret", "acme", "--grace", "7d", "--json", stdout=out)
    fresh = as_partner(acme.community, json.loads(out.getvalue())["client_secret"])
    assert json.loads(out.getvalue())["previous_secret_valid_until"] is None
    for moment in (timedelta(0), timedelta(hours=1), timedelta(days=6), timedelta(days=400)):
        with time_machine.travel(timezone.now() + moment):
            assert request_token(api, acme).status_code == 401
    assert request_token(api, fresh).status_code == 200
    # Reactivating, rotating again with grace: still dead.
    secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(days=7))
    assert request_token(api, acme).status_code == 401


def test_completing_a_request_offers_no_grace_for_the_reported_secret(api, acme, client):
    opened = report(api, acme).json()
    staff = User.objects.create_superuser("root", password="x")
    client.force_login(staff)
    handle = reverse("admin:tokens_revocationrequest_handle", args=[opened["id"]])

    page = client.get(handle).content.decode()
    assert 'name="grace"' not in page  # nothing to choose: the reported secret stays stopped
    response = client.post(handle, {"grace": "7d", "reason": "handled", "form_key": form_key(client, handle)})
    assert response.status_code in (200, 302)  # a crafted grace field is ignored just the same
    assert RevocationRequest.objects.get(pk=opened["id"]).status == "done"
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert request_token(api, acme).status_code == 401


def test_the_handling_service_has_no_grace_to_give(acme):
    request = RevocationRequest.objects.create(community=acme.community, reason="phone call", opened_by="x")
    with pytest.raises(TypeError):
        revocation_request_handle(
            revocation=request, staff_user=User.objects.create_user("u"), grace=timedelta(days=7)
        )


def test_a_report_made_by_staff_suspends_the_secrets_too(api, acme, client):
    client.force_login(User.objects.create_superuser("root", password="x"))
    response = client.post(
        reverse("admin:tokens_revocationrequest_add"),
        {
            "community": acme.community.pk,
            "reason": "partner phoned",
            "form_key": form_key(client, reverse("admin:tokens_revocationrequest_add")),
        },
    )
    assert response.status_code == 302
    assert request_token(api, acme).status_code == 401
    assert not ClientSecret.objects.filter(community=acme.community, valid_until__isnull=True).exists()


# --- item 7: a rotation or deactivation landing between verification and minting ---------------------


@pytest.fixture
def between_verify_and_mint(monkeypatch):
    """Run ``action`` after the secret was verified and before the token is minted: the race, made exact."""

    def install(action):
        real_issue = token_views.token_issue

        def issue_after(**kwargs):
            action()
            return real_issue(**kwargs)

        monkeypatch.setattr(token_views, "token_issue", issue_after)

    return install


@pytest.mark.parametrize(
    "command",
    [
        ["rotate_secret", "acme", "--revoke-tokens"],
        ["deactivate_community", "acme"],
    ],
)
def test_no_token_survives_a_cut_off_that_lands_between_verify_and_mint(
    api, acme, between_verify_and_mint, command
):
    between_verify_and_mint(lambda: call_command(*command, stdout=io.StringIO()))

    response = request_token(api, acme)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not IssuedToken.objects.exists()
    assert AuditEvent.objects.filter(event_type="client_auth_failed", client_id="acme").count() == 1


@pytest.mark.parametrize(
    "change",
    [
        PolicyChange(methods=["private_key_jwt"]),  # secrets switched off for this partner
        PolicyChange(allowed_ips=["203.0.113.0/24"]),  # only from the partner's own network
        PolicyChange(dpop="required"),  # only tokens bound to a key
    ],
)
def test_a_policy_change_landing_between_verify_and_mint_is_seen(api, acme, between_verify_and_mint, change):
    # The policy admitted the request when it authenticated; the token is minted under the policy in
    # force when it is recorded, as for every other cut-off (SECURITY.md item 7).
    between_verify_and_mint(
        lambda: client_auth_policy_set(community=acme.community, change=change, actor=TEST_ACTOR)
    )

    response = request_token(api, acme)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert not IssuedToken.objects.exists()


def test_a_report_landing_between_verify_and_mint_wins(api, acme, between_verify_and_mint):
    other_api = type(api)()
    between_verify_and_mint(lambda: report(other_api, acme))
    assert request_token(api, acme).status_code == 401
    assert not IssuedToken.objects.exists()


def test_a_rotation_with_grace_does_not_stop_a_token_being_issued(api, acme, between_verify_and_mint):
    between_verify_and_mint(
        lambda: secret_rotate(community=acme.community, actor=TEST_ACTOR, grace=timedelta(hours=1))
    )
    response = request_token(api, acme)
    assert response.status_code == 200
    assert get_bflus(api, response.json()["access_token"]).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_issuing_waits_for_a_rotation_in_flight_and_then_refuses(api):
    """The same race with real concurrency (PostgreSQL row locks): a rotation with --revoke-tokens holds
    its transaction open; a token request that verified the old secret meanwhile must wait for it and
    then be refused, not mint a token that outlives the cut-off."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers anyway)")
    from tests.conftest import make_community

    created = make_community("racer")
    locked, release = threading.Event(), threading.Event()

    def rotate_and_hold():
        try:
            with transaction.atomic():
                community_rotate_secret(community=created.community, actor=TEST_ACTOR, revoke_tokens=True)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    rotation = threading.Thread(target=rotate_and_hold)
    rotation.start()
    assert locked.wait(10)
    outcome = {}

    def ask():
        try:
            outcome["response"] = request_token(type(api)(), created)
        finally:
            connection.close()

    asker = threading.Thread(target=ask)
    asker.start()
    asker.join(1.0)
    assert asker.is_alive()  # it verified the old secret (still committed) and now waits for the lock
    release.set()
    rotation.join(10)
    asker.join(10)
    assert outcome["response"].status_code == 401
    assert not IssuedToken.objects.filter(community=created.community).exists()
