"""The staff console: every action, through the real admin views, as a superuser and as the two roles."""

import re
from datetime import timedelta

import jwt
import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from audit.models import AuditEvent
from clients.models import ClientSecret
from communities.models import Community, Member
from tests.conftest import get_bflus, issue_token, request_token
from tokens.models import IssuedToken, RevocationRequest

pytestmark = pytest.mark.django_db
SECRET = re.compile(r"bfl_sk_[A-Za-z0-9]{49}")


def staff(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def support_client(client):
    client.force_login(staff("sam-support", "support"))
    return client


@pytest.fixture
def security_client(client):
    client.force_login(staff("sue-security", "security"))
    return client


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def shown_secret(response) -> str:
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    found = SECRET.findall(response.content.decode())
    assert len(set(found)) == 1, found
    return found[0]


FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


def form_key(client, page: str) -> str:
    response = client.get(page)
    assert response.status_code == 200, response
    return FORM_KEY.search(response.content.decode()).group(1)


def submit_once(client, page: str, data: dict) -> tuple[str, str, dict]:
    """Fill the form as a browser would (with its one-time key), post it, follow the redirect to the secret.

    Returns the secret, the one-time page's address and the exact data posted (to resubmit it).
    """
    posted = {**data, "form_key": form_key(client, page)}
    response = client.post(page, posted)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not SECRET.search(response.content.decode())
    return shown_secret(client.get(response["Location"])), response["Location"], posted


def result_rows(response) -> str:
    """The changelist's table only, without the filter sidebar."""
    return response.content.decode().split('id="result_list"')[1].split("</table>")[0]


def no_token_banner(client, community) -> str:
    """The community page's top banner saying why the partner gets no token (its HTML, links kept)."""
    page = client.get(url("communities_community_change", community.pk)).content.decode()
    return page.split('id="no-token">', 1)[1].split("</p>", 1)[0]


def as_partner(community, secret):
    from clients.services import NewCommunity

    return NewCommunity(community=community, client_secret=secret)


# --- onboarding: the secret shown exactly once ---------------------------------------------------


def test_security_user_onboards_a_community_and_sees_the_secret_once(api, security_client):
    secret, _page, _posted = submit_once(
        security_client,
        url("communities_community_add"),
        {"client_id": "newco", "name": "New Co", "permissions": ["bflus:read"], "token_lifetime": "1h"},
    )
    community = Community.objects.get(client_id="newco")
    assert (community.permissions, community.token_lifetime) == (["bflus:read"], timedelta(hours=1))
    assert request_token(api, as_partner(community, secret)).status_code == 200

    for page in (
        url("communities_community_changelist"),
        url("communities_community_change", community.pk),
        url("audit_auditevent_changelist"),
        url("tokens_issuedtoken_changelist"),
    ):
        assert secret not in security_client.get(page).content.decode()
    event = AuditEvent.objects.get(event_type="community_created")
    assert (event.actor_type, event.actor, event.source_ip) == ("staff", "sue-security", "127.0.0.1")


def test_onboarding_errors_are_shown_and_change_nothing(security_client, acme):
    response = security_client.post(
        url("communities_community_add"),
        {
            "client_id": "acme",
            "name": "Dup",
            "form_key": form_key(security_client, url("communities_community_add")),
        },
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not SECRET.search(response.content.decode())
    assert Community.objects.filter(client_id="acme").count() == 1


def test_onboarding_page_is_in_portuguese_by_default(security_client):
    response = security_client.get(url("communities_community_add"))
    assert response["Content-Language"] == "pt-br"
    assert "Permissões" in response.content.decode()


def test_community_list_shows_state_permissions_live_tokens_and_secret_hints(api, superuser_client, acme):
    issue_token(api, acme)
    page = superuser_client.get(url("communities_community_changelist")).content.decode()
    hint = ClientSecret.objects.get(community=acme.community).hint
    assert "bflus:read" in page and hint in page
    assert '<td class="field-live_tokens">1</td>' in page


# --- rotation -------------------------------------------------------------------------------------


def test_rotate_page_shows_a_form_and_rotates_only_on_post(security_client, acme):
    page = security_client.get(url("communities_community_rotate_secret", acme.community.pk))
    assert page.status_code == 200
    assert re.search(
        r"\d\d:\d\d \(horário de Brasília\)", page.content.decode()
    )  # until when, in the staff member's zone, named as staff say it
    assert ClientSecret.objects.filter(community=acme.community).count() == 1


def test_rotate_with_grace_and_revocation_then_stop_the_old_secret_early(api, security_client, acme):
    token = issue_token(api, acme)
    new_secret, _page, _posted = submit_once(
        security_client,
        url("communities_community_rotate_secret", acme.community.pk),
        {"grace": "24h", "revoke_tokens": "on", "reason": "yearly rotation"},
    )
    assert get_bflus(api, token).status_code == 401
    assert request_token(api, acme).status_code == 200  # old secret: inside its grace window
    assert request_token(api, as_partner(acme.community, new_secret)).status_code == 200

    change_page = security_client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert "válido até" in change_page and 'id="stop-previous-secret"' in change_page
    response = security_client.post(
        url("communities_community_stop_previous_secret", acme.community.pk),
        {"reason": "partner confirmed the switch"},
    )
    assert response.status_code == 302
    assert request_token(api, acme).status_code == 401
    assert request_token(api, as_partner(acme.community, new_secret)).status_code == 200
    event = AuditEvent.objects.get(event_type="secret_expired")
    assert (event.actor, event.source_ip, event.details["reason"]) == (
        "sue-security",
        "127.0.0.1",
        "partner confirmed the switch",
    )
    # Nothing left to end: no button, and the page refuses politely instead of writing an empty row.
    change_page = security_client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert 'id="stop-previous-secret"' not in change_page
    again = security_client.post(
        url("communities_community_stop_previous_secret", acme.community.pk), {"reason": "again"}
    )
    assert again.status_code == 302
    assert AuditEvent.objects.filter(event_type="secret_expired").count() == 1


def test_support_user_cannot_rotate_create_or_deactivate(api, support_client, acme):
    issue_token(api, acme)  # a live token: something to revoke, so the link is offered
    pk = acme.community.pk
    assert support_client.get(url("communities_community_change", pk)).status_code == 200
    for name in (
        "communities_community_rotate_secret",
        "communities_community_stop_previous_secret",
        "communities_community_deactivate",
    ):
        assert support_client.post(url(name, pk), {"grace": "0s", "reason": "x"}).status_code == 403
    assert support_client.get(url("communities_community_add")).status_code == 403
    page = support_client.get(url("communities_community_change", pk)).content.decode()
    assert 'id="rotate-secret"' not in page and 'id="revoke-tokens"' in page
    assert ClientSecret.objects.filter(community=acme.community).count() == 1
    assert Community.objects.get(pk=pk).is_active


# --- revoke all, deactivate, reactivate -----------------------------------------------------------


def test_support_user_revokes_all_tokens_with_a_reason(api, support_client, acme):
    token = issue_token(api, acme)
    page = url("communities_community_revoke_tokens", acme.community.pk)
    assert support_client.post(page, {"reason": ""}).status_code == 200  # a reason is required
    assert get_bflus(api, token).status_code == 200
    assert support_client.post(page, {"reason": "partner called"}).status_code == 302
    assert get_bflus(api, token).status_code == 401
    event = AuditEvent.objects.get(event_type="tokens_revoked_all")
    assert (event.actor, event.details["reason"]) == ("sam-support", "partner called")


def test_deactivate_and_reactivate(api, security_client, acme):
    token = issue_token(api, acme)
    assert (
        security_client.post(
            url("communities_community_deactivate", acme.community.pk), {"reason": "contract ended"}
        ).status_code
        == 302
    )
    assert get_bflus(api, token).status_code == 401
    assert request_token(api, acme).status_code == 401
    page = security_client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert 'id="reactivate"' in page
    assert (
        security_client.post(
            url("communities_community_reactivate", acme.community.pk), {"reason": "renewed"}
        ).status_code
        == 302
    )
    assert request_token(api, acme).status_code == 200


def test_editing_permissions_is_audited_and_takes_effect(api, security_client, acme):
    token = issue_token(api, acme)
    response = security_client.post(
        url("communities_community_change", acme.community.pk),
        {
            "name": "Acme",
            "permissions": ["bflus:write"],
            "token_lifetime": "",
            "reason": "contract now covers writes",
        },
    )
    assert response.status_code == 302
    assert get_bflus(api, token).status_code == 403
    event = AuditEvent.objects.get(event_type="community_updated")
    assert event.details["permissions"] == {"from": ["bflus:read"], "to": ["bflus:write"]}
    assert (event.actor, event.source_ip, event.details["reason"]) == (
        "sue-security",
        "127.0.0.1",
        "contract now covers writes",
    )


# --- issued tokens --------------------------------------------------------------------------------


def test_issued_tokens_are_searchable_filterable_and_read_only(api, support_client, acme, globex):
    mine, theirs = issue_token(api, acme), issue_token(api, globex)
    jti = jwt.decode(mine, options={"verify_signature": False})["jti"]
    changelist = url("tokens_issuedtoken_changelist")
    found = support_client.get(changelist, {"q": jti}).content.decode()
    assert jti in found and jwt.decode(theirs, options={"verify_signature": False})["jti"] not in found
    assert jti in support_client.get(changelist, {"state": "active"}).content.decode()
    assert jti not in support_client.get(changelist, {"state": "revoked"}).content.decode()
    assert support_client.get(url("tokens_issuedtoken_add")).status_code == 403
    assert support_client.post(url("tokens_issuedtoken_change", jti), {"scope": "x"}).status_code == 403
    assert support_client.post(url("tokens_issuedtoken_delete", jti), {"post": "yes"}).status_code == 403
    assert IssuedToken.objects.count() == 2


def test_revoke_selected_asks_for_a_reason_then_revokes(api, support_client, acme, globex):
    tokens = [issue_token(api, acme), issue_token(api, globex)]
    other = issue_token(api, acme)
    jtis = [jwt.decode(token, options={"verify_signature": False})["jti"] for token in tokens]
    changelist = url("tokens_issuedtoken_changelist")
    confirm = support_client.post(changelist, {"action": "revoke_selected", "_selected_action": jtis})
    assert confirm.status_code == 200 and b"confirm-form" in confirm.content
    assert all(get_bflus(api, token).status_code == 200 for token in tokens)
    done = support_client.post(
        changelist,
        {"action": "revoke_selected", "_selected_action": jtis, "confirm": "1", "reason": "lost laptop"},
    )
    assert done.status_code == 302
    assert all(get_bflus(api, token).status_code == 401 for token in tokens)
    assert get_bflus(api, other).status_code == 200
    assert set(
        IssuedToken.objects.filter(revoked_by="staff:sam-support").values_list("jti", flat=True)
    ) == set(jtis)


# --- revocation requests --------------------------------------------------------------------------


def test_staff_open_a_request_received_by_phone(api, support_client, acme):
    token = issue_token(api, acme)
    response = support_client.post(
        url("tokens_revocationrequest_add"),
        {
            "community": acme.community.pk,
            "reason": "phoned in",
            "form_key": form_key(support_client, url("tokens_revocationrequest_add")),
        },
    )
    assert response.status_code == 302
    request = RevocationRequest.objects.get()
    assert (request.opened_by, request.tokens_revoked, request.status) == ("staff:sam-support", 1, "pending")
    assert get_bflus(api, token).status_code == 401


def test_security_completes_a_partner_request_the_secret_shows_once_and_the_queue_puts_it_first(
    api, support_client, acme
):
    api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": "leak"},
        format="json",
    )
    done = RevocationRequest.objects.create(
        community=acme.community, reason="old", status="done", opened_by="x"
    )
    pending = RevocationRequest.objects.get(status="pending")
    listing = support_client.get(url("tokens_revocationrequest_changelist")).content.decode()
    assert listing.index(str(pending)) < listing.index(str(done))  # pending first
    assert "Pedido #" in listing and "leak" in listing

    support_client.force_login(staff("sue-security", "security"))
    page = support_client.get(url("tokens_revocationrequest_change", pending.pk)).content.decode()
    assert 'id="handle-request"' in page
    new_secret, _page, posted = submit_once(
        support_client,
        url("tokens_revocationrequest_handle", pending.pk),
        {"grace": "0s", "reason": "partner confirmed by phone"},
    )
    pending.refresh_from_db()
    assert (pending.status, pending.handled_by.username) == ("done", "sue-security")
    assert request_token(api, acme).status_code == 401
    assert request_token(api, as_partner(acme.community, new_secret)).status_code == 200
    again = support_client.post(url("tokens_revocationrequest_handle", pending.pk), posted)
    assert again.status_code == 302 and not SECRET.search(again.content.decode())
    assert ClientSecret.objects.filter(community=acme.community).count() == 2
    for event in AuditEvent.objects.filter(event_type__in=["revocation_request_handled", "secret_rotated"]):
        assert (event.actor, event.source_ip) == ("sue-security", "127.0.0.1")
        assert event.details["reason"] == "partner confirmed by phone"


# --- audit trail and members ----------------------------------------------------------------------


def test_audit_trail_is_read_only_and_filterable(api, support_client, acme):
    issue_token(api, acme)
    event = AuditEvent.objects.filter(event_type="token_issued").get()
    changelist = url("audit_auditevent_changelist")
    rows = result_rows(support_client.get(changelist, {"event_type__exact": "token_issued"}))
    assert event.jti in rows
    assert "comunidade criada" not in rows and "comunidade criada" in result_rows(
        support_client.get(changelist)
    )
    assert support_client.get(url("audit_auditevent_add")).status_code == 403
    assert support_client.post(url("audit_auditevent_change", event.pk), {"actor": "x"}).status_code == 403
    assert support_client.post(url("audit_auditevent_delete", event.pk), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).actor == "acme"


def test_security_user_edits_a_balance_and_it_is_audited(api, security_client, acme):
    member = Member.objects.get(community=acme.community, reference="123")
    assert (
        security_client.post(url("communities_member_change", member.pk), {"bflus": "2500"}).status_code
        == 200
    )
    assert Member.objects.get(pk=member.pk).bflus == 1500  # a reason is required
    response = security_client.post(
        url("communities_member_change", member.pk), {"bflus": "2500", "reason": "loyalty bonus, ticket 42"}
    )
    assert response.status_code == 302
    assert get_bflus(api, issue_token(api, acme)).json()["bflus"] == 2500
    event = AuditEvent.objects.get(event_type="member_balance_set", actor="sue-security")
    assert (event.details["previous"], event.details["bflus"], event.details["reason"]) == (
        1500,
        2500,
        "loyalty bonus, ticket 42",
    )
    assert (
        security_client.post(
            url("communities_member_change", member.pk), {"bflus": "-1", "reason": "x"}
        ).status_code
        == 200
    )
    assert Member.objects.get(pk=member.pk).bflus == 2500


def test_support_user_cannot_edit_balances(support_client, acme):
    member = Member.objects.get(community=acme.community, reference="123")
    assert support_client.post(url("communities_member_change", member.pk), {"bflus": "1"}).status_code == 403
    assert Member.objects.get(pk=member.pk).bflus == 1500


def test_members_are_searchable(support_client, acme, globex):
    rows = result_rows(support_client.get(url("communities_member_changelist"), {"q": "globex"}))
    assert "555" in rows and "acme community" not in rows


def test_non_staff_cannot_reach_the_admin(client, acme):
    client.force_login(User.objects.create_user("partner-dev", password="x"))
    response = client.get(url("communities_community_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.fixture
def superuser_client(admin_client):
    return admin_client


def test_superuser_sees_everything(superuser_client, acme):
    for name in (
        "communities_community_changelist",
        "communities_member_changelist",
        "tokens_issuedtoken_changelist",
        "tokens_revocationrequest_changelist",
        "audit_auditevent_changelist",
    ):
        assert superuser_client.get(url(name)).status_code == 200
