"""SPEC §5a "No silent cut-off", through Django's test client: a form acts once even when reached again
by Back; a rotation that would end a secret still in its grace window, a completion that would end a
newer secret, and a policy that leaves no way in all say so and need an explicit confirmation."""

import pytest

from audit.models import AuditEvent
from clients.models import ClientAuthPolicy, ClientSecret
from tests.test_admin import FORM_KEY, form_key, submit_once, url
from tests.test_console_safety import login
from tokens.models import RevocationRequest

pytestmark = pytest.mark.django_db


def rotate(client, community, **data):
    page = url("communities_community_rotate_secret", community.pk)
    return submit_once(client, page, {"grace": "24h", "reason": "routine", **data})


def test_back_then_submit_after_a_rotation_says_what_happened_and_does_nothing(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    _secret, _secret_page, posted = rotate(client, acme.community)

    # Back shows the form again with the key it was sent with (console/once-form.js keeps it in the
    # history entry); submitting it again does nothing and says what was done.
    again = client.post(page, posted)
    assert again.status_code == 302 and "/admin/console/done/" in again["Location"]
    done = client.get(again["Location"])
    text = done.content.decode()
    assert done.status_code == 200 and 'id="form-done"' in text and "foi trocado" in text
    assert ClientSecret.objects.filter(community=acme.community).count() == 2

    # A new visit to the form is a new form: acting again later is an ordinary second action.
    fresh = client.get(page)
    assert fresh.status_code == 200 and FORM_KEY.search(fresh.content.decode()).group(1) != posted["form_key"]
    assert "já foi feito" not in fresh.content.decode()


def test_a_rotation_inside_the_grace_window_names_the_secret_it_ends_and_needs_the_box(client, acme):
    login(client, "sue", "security")
    rotate(client, acme.community)  # the first secret is now in its 24 h grace window
    in_grace = ClientSecret.objects.filter(community=acme.community).order_by("created_at").first()

    page = url("communities_community_rotate_secret", acme.community.pk)
    shown = client.get(page).content.decode()
    assert 'id="form-danger"' in shown and in_grace.hint in shown and "401" in shown
    assert "nunca" in shown  # never used: said so, not left blank
    key = form_key(client, page)
    unticked = client.post(
        page, {"grace": "24h", "reason": "again", "form_key": key, "ending_hint": in_grace.hint}
    )
    assert unticked.status_code == 200 and "Marque a caixa" in unticked.content.decode()
    assert ClientSecret.objects.filter(community=acme.community).count() == 2

    ticked = client.post(
        page,
        {
            "grace": "24h",
            "reason": "again",
            "form_key": key,
            "ending_hint": in_grace.hint,
            "end_secret_in_grace": "on",
        },
    )
    assert ticked.status_code == 302
    event = AuditEvent.objects.filter(event_type="secret_rotated").latest("id")
    assert event.details["ended_hints"] == [in_grace.hint]


def test_a_rotation_with_no_older_secret_in_grace_asks_nothing_more(client, acme):
    login(client, "sue", "security")
    shown = client.get(url("communities_community_rotate_secret", acme.community.pk)).content.decode()
    assert 'id="form-danger"' not in shown and "end_secret_in_grace" not in shown
    rotate(client, acme.community, grace="0s")
    event = AuditEvent.objects.get(event_type="secret_rotated")
    assert len(event.details["ended_hints"]) == 1  # no grace: the current secret ended at once


def test_a_revocation_request_form_sent_twice_opens_one_request(client, acme):
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    shown = client.get(page).content.decode()
    assert "suspens" in shown and "401" in shown  # the consequence, before saving
    posted = {"community": acme.community.pk, "reason": "phoned in", "form_key": form_key(client, page)}
    assert client.post(page, posted).status_code == 302
    again = client.post(page, posted)  # Back, then submit
    assert again.status_code == 302 and "/admin/console/done/" in again["Location"]
    assert "O pedido #" in client.get(again["Location"]).content.decode()
    assert RevocationRequest.objects.count() == 1


def test_completing_a_request_when_a_newer_secret_exists_needs_the_box(client, acme):
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    client.post(page, {"community": acme.community.pk, "reason": "leak", "form_key": form_key(client, page)})
    revocation = RevocationRequest.objects.get()
    login(client, "sue", "security")
    rotate(client, acme.community, grace="0s")  # someone handed a new secret over by hand meanwhile
    newer = ClientSecret.objects.filter(community=acme.community).latest("created_at")

    handle = url("tokens_revocationrequest_handle", revocation.pk)
    shown = client.get(handle).content.decode()
    assert 'id="form-danger"' in shown and newer.hint in shown
    key = FORM_KEY.search(shown).group(1)
    unticked = client.post(handle, {"reason": "done", "form_key": key, "newer_hint": newer.hint})
    assert unticked.status_code == 200 and "Marque a caixa" in unticked.content.decode()
    assert RevocationRequest.objects.get().status == "pending"
    ticked = client.post(
        handle, {"reason": "done", "form_key": key, "newer_hint": newer.hint, "end_newer_secret": "on"}
    )
    assert ticked.status_code == 302
    assert RevocationRequest.objects.get().status == "done"


def test_a_policy_that_leaves_no_way_in_needs_confirmation_and_invalid_ranges_are_refused_in_portuguese(
    client, acme
):
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    keys_only = {"methods": ["private_key_jwt"], "dpop": "off", "allowed_ips": "", "reason": "move to keys"}
    first = client.post(page, keys_only)
    text = first.content.decode()
    assert first.status_code == 200 and 'id="form-danger"' in text and "nenhuma" in text.lower()
    assert not ClientAuthPolicy.objects.filter(community=acme.community).exists()
    confirmed = client.post(page, {**keys_only, "confirm_lockout": "on"})
    assert confirmed.status_code == 302
    assert ClientAuthPolicy.objects.get(community=acme.community).allow_client_secret is False

    bad = client.post(page, {**keys_only, "methods": ["client_secret"], "allowed_ips": "10.0.0.1/8"})
    assert bad.status_code == 200 and "Você quis dizer 10.0.0.0/8?" in bad.content.decode()


def test_a_stale_form_gets_a_console_page_in_portuguese(acme):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    login(browser, "sue", "security")
    response = browser.post(url("clients_clientauthpolicy_set", acme.community.pk), {"reason": "x"})
    page = response.content.decode()
    assert response.status_code == 403 and "Esta página expirou" in page
    assert "DEBUG" not in page and 'id="console-error"' in page


def test_counts_read_right_in_portuguese_and_jargon_is_explained(client, acme):
    login(client, "sam", "support")
    page = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert "0 tokens" in page and "0 pedidos de revogação" in page  # zero is plural in Portuguese
    assert "0 token<" not in page and "0 pedido de" not in page
    tokens = client.get(url("tokens_issuedtoken_changelist")).content.decode()
    assert 'id="token-glossary"' in tokens and "401 (acesso recusado)" in tokens
