"""Staff console screens for partner keys and client-auth policies (issue 15): security registers
(confirming the thumbprint once) and retires keys and sets the policy; support only reads; all audited."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from clients.models import ClientAuthPolicy, ClientKey
from tests.conftest import make_community
from tests.keyfactory import private_key, public_pem
from tests.test_admin import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    return make_community("acme").community


@pytest.fixture
def security_client(client):
    client.force_login(staff("sue-security", "security"))
    return client


@pytest.fixture
def support_client(client):
    client.force_login(staff("sam-support", "support"))
    return client


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def test_registering_a_key_shows_the_thumbprint_and_needs_its_confirmation(security_client, acme):
    key = private_key("ES256")
    paste = security_client.get(url("clients_clientkey_add")).content.decode()
    assert 'id="cancel"' in paste and 'name="confirmed"' not in paste  # the box comes with the fingerprint
    first = security_client.post(
        url("clients_clientkey_add"), {"community": acme.pk, "public_key": public_pem(key)}
    )
    shown = first.content.decode()
    assert first.status_code == 200 and key.thumbprint() in shown
    assert 'id="key-fingerprint"' in shown and 'name="confirmed"' in shown and 'id="cancel"' in shown
    assert not ClientKey.objects.exists()
    # Confirming a thumbprint that does not belong to the pasted key registers nothing.
    other = private_key("ES256", fresh=True)
    tampered = security_client.post(
        url("clients_clientkey_add"),
        {
            "community": acme.pk,
            "step": "confirm",
            "public_key": public_pem(other),
            "thumbprint": key.thumbprint(),
            "confirmed": "on",
        },
    )
    assert tampered.status_code == 200 and not ClientKey.objects.exists()
    assert "mudou depois" in tampered.content.decode()
    # Not ticked: a clear error on the fingerprint page, not a silent re-show.
    unticked = security_client.post(
        url("clients_clientkey_add"),
        {
            "community": acme.pk,
            "step": "confirm",
            "public_key": public_pem(key),
            "thumbprint": key.thumbprint(),
        },
    )
    page = unticked.content.decode()
    assert unticked.status_code == 200 and "Marque a caixa" in page and 'id="key-fingerprint"' in page
    assert not ClientKey.objects.exists()
    done = security_client.post(
        url("clients_clientkey_add"),
        {
            "community": acme.pk,
            "step": "confirm",
            "public_key": public_pem(key),
            "thumbprint": key.thumbprint(),
            "confirmed": "on",
        },
    )
    assert done.status_code == 302
    stored = ClientKey.objects.get()
    assert stored.thumbprint == key.thumbprint() and stored.community == acme
    event = AuditEvent.objects.get(event_type="client_key_added")
    assert event.actor == "sue-security" and event.details["thumbprint"] == key.thumbprint()


def test_a_key_file_can_be_uploaded_instead_of_pasted(security_client, acme):
    from django.core.files.uploadedfile import SimpleUploadedFile

    key = private_key("ES256")
    upload = SimpleUploadedFile(
        "partner.pem", public_pem(key).encode(), content_type="application/x-pem-file"
    )
    response = security_client.post(url("clients_clientkey_add"), {"community": acme.pk, "key_file": upload})
    assert response.status_code == 200 and key.thumbprint() in response.content.decode()
    assert not ClientKey.objects.exists()


def test_a_private_key_pasted_by_mistake_is_refused_and_not_echoed(security_client, acme):
    pem = private_key("ES256").as_pem(private=True).decode()
    response = security_client.post(url("clients_clientkey_add"), {"community": acme.pk, "public_key": pem})
    assert response.status_code == 200
    assert "chave privada" in response.content.decode().lower()
    assert not ClientKey.objects.exists()


def test_retiring_a_key_asks_for_a_reason_and_is_audited(security_client, acme):
    from clients.services import client_key_add
    from tests.conftest import TEST_ACTOR

    key = client_key_add(community=acme, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    listing = security_client.get(url("clients_clientkey_changelist"))
    assert url("clients_clientkey_retire", key.pk) in listing.content.decode()
    assert security_client.get(url("clients_clientkey_retire", key.pk)).status_code == 200
    assert ClientKey.objects.get().retired_at is None
    # The last active key: the page says so, and it takes a ticked box.
    unticked = security_client.post(url("clients_clientkey_retire", key.pk), {"reason": "laptop lost"})
    assert unticked.status_code == 200 and "última chave ativa" in unticked.content.decode()
    assert ClientKey.objects.get().retired_at is None
    response = security_client.post(
        url("clients_clientkey_retire", key.pk), {"reason": "laptop lost", "confirm_last": "on"}
    )
    assert response.status_code == 302
    assert ClientKey.objects.get().retired_at is not None
    event = AuditEvent.objects.get(event_type="client_key_retired")
    assert event.details["reason"] == "laptop lost" and event.actor == "sue-security"


def test_setting_the_policy_from_the_console(security_client, acme):
    page = security_client.get(url("clients_clientauthpolicy_set", acme.pk))
    assert page.status_code == 200
    response = security_client.post(
        url("clients_clientauthpolicy_set", acme.pk),
        {
            "methods": ["client_secret"],
            "dpop": "required",
            "allowed_ips": "203.0.113.0/24\n2001:db8::/32",
            "allowlist_applies_to_api": "on",
            "reason": "partner asked",
        },
    )
    assert response.status_code == 302
    policy = ClientAuthPolicy.objects.get(community=acme)
    assert (policy.dpop, policy.allowed_ips, policy.allowlist_applies_to_api) == (
        "required",
        ["203.0.113.0/24", "2001:db8::/32"],
        True,
    )
    event = AuditEvent.objects.get(event_type="client_auth_policy_set")
    assert event.actor == "sue-security" and event.details["reason"] == "partner asked"


def test_policy_errors_are_shown_and_change_nothing(security_client, acme):
    response = security_client.post(
        url("clients_clientauthpolicy_set", acme.pk),
        {"methods": [], "dpop": "off", "allowed_ips": "", "reason": "x"},
    )
    assert response.status_code == 200
    response = security_client.post(
        url("clients_clientauthpolicy_set", acme.pk),
        {"methods": ["client_secret"], "dpop": "off", "allowed_ips": "10.0.0.1/8", "reason": "x"},
    )
    assert response.status_code == 200
    assert not ClientAuthPolicy.objects.exists()


def test_support_reads_but_cannot_change_keys_or_policies(support_client, acme):
    assert support_client.get(url("clients_clientkey_changelist")).status_code == 200
    assert support_client.get(url("clients_clientauthpolicy_changelist")).status_code == 200
    assert support_client.get(url("clients_clientkey_add")).status_code == 403
    assert (
        support_client.post(
            url("clients_clientauthpolicy_set", acme.pk),
            {"methods": ["client_secret"], "dpop": "required", "allowed_ips": "", "reason": "x"},
        ).status_code
        == 403
    )
    from clients.services import client_key_add
    from tests.conftest import TEST_ACTOR

    key = client_key_add(community=acme, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    assert support_client.post(url("clients_clientkey_retire", key.pk), {"reason": "x"}).status_code == 403
    assert ClientKey.objects.get().retired_at is None and not ClientAuthPolicy.objects.exists()


def test_keys_only_without_a_key_is_saved_with_a_warning_once_confirmed(security_client, acme):
    fields = {"methods": ["private_key_jwt"], "dpop": "off", "allowed_ips": "", "reason": "switching to keys"}
    unconfirmed = security_client.post(url("clients_clientauthpolicy_set", acme.pk), fields)
    assert unconfirmed.status_code == 200 and 'id="form-danger"' in unconfirmed.content.decode()
    assert not ClientAuthPolicy.objects.filter(community=acme).exists()
    response = security_client.post(
        url("clients_clientauthpolicy_set", acme.pk), {**fields, "confirm_lockout": "on"}, follow=True
    )
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["success", "warning"]
    assert ClientAuthPolicy.objects.get(community=acme).allow_client_secret is False


def _token_by_key(client_id, key):
    from rest_framework.test import APIClient

    from tests.conftest import post_form
    from tests.keyfactory import ASSERTION_TYPE, assertion

    signed = assertion(key, client_id, "http://testserver/auth/token")
    response = post_form(
        APIClient(),
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.mark.parametrize("keep_tokens", [False, True])
def test_retiring_a_key_in_the_console_revokes_its_tokens_unless_kept(security_client, acme, keep_tokens):
    from rest_framework.test import APIClient

    from clients.services import PolicyChange, client_auth_policy_set, client_key_add
    from tests.conftest import TEST_ACTOR, bearer
    from tokens.models import IssuedToken

    partner_key = private_key("ES256", fresh=True)
    key = client_key_add(community=acme, key_text=public_pem(partner_key), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=acme, change=PolicyChange(methods=["client_secret", "private_key_jwt"]), actor=TEST_ACTOR
    )
    token = _token_by_key("acme", partner_key)

    # It is acme's only active key: retiring the last one takes the explicit "last key" confirmation.
    form = {"reason": "laptop lost", "confirm_last": "on", **({"keep_tokens": "on"} if keep_tokens else {})}
    response = security_client.post(url("clients_clientkey_retire", key.pk), form, follow=True)

    assert response.status_code == 200
    shown = response.content.decode()
    answer = APIClient().get("/auth/me", **bearer(token))
    if keep_tokens:
        assert answer.status_code == 200 and IssuedToken.objects.get().revoked_at is None
        assert "0 tokens revogados" in shown  # pt-BR: zero takes the plural (Plural-Forms n != 1)
    else:
        assert answer.status_code == 401 and IssuedToken.objects.get().revoked_at is not None
        assert "1 token revogado" in shown
