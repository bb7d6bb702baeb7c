"""Fixes from a staff review of the console in pt-BR, through Django's test client: the password prompt
says what the action is, a retired key's page after Back, the policy and a pending request shown where a
secret is rotated or a request completed, and every secret a completion ends named before it; no hint at
a grace window that is not offered, a key policy warned of before a key is registered, the same
breadcrumbs everywhere, no call to act on zero tokens, and "what you typed is kept" only when it was."""

import time

import pytest
import time_machine
from django.contrib.auth.models import User

from audit.models import AuditEvent
from tests.test_admin import form_key, url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_safety import login
from tokens.models import RevocationRequest

pytestmark = pytest.mark.django_db

SECRET_PROMPT = "cria ou mostra um segredo do parceiro"


def _prompt_text(client, page: str) -> str:
    with time_machine.travel(time.time() + 11 * 60):
        prompt = client.get(page)
        assert prompt.status_code == 302 and "/confirm-password/" in prompt["Location"]
        shown = client.get(prompt["Location"])
    assert shown.status_code == 200
    return shown.content.decode()


def test_the_prompt_before_lifting_a_lock_or_resetting_a_factor_says_so(client):
    login(client, "sue", "security", password="pw-for-sue-123456")
    tom = login(client.__class__(), "tom", "security")
    client.force_login(User.objects.get(username="sue"))
    lift = _prompt_text(client, url("console_staffaccount_lift_lock", tom.pk))
    assert "retira o bloqueio de entrada" in lift and SECRET_PROMPT not in lift
    reset = _prompt_text(client, url("console_staffaccount_reset_second_factor", tom.pk))
    assert "redefine o segundo fator" in reset and SECRET_PROMPT not in reset


def test_the_prompt_before_a_rotation_still_speaks_of_the_secret(client, acme):
    login(client, "sue", "security", password="pw-for-sue-123456")
    shown = _prompt_text(client, url("communities_community_rotate_secret", acme.community.pk))
    assert SECRET_PROMPT in shown


def test_back_after_retiring_a_key_says_it_was_retired_and_links_to_the_keys(client, acme):
    from clients.services import client_key_add
    from tests.conftest import TEST_ACTOR
    from tests.keyfactory import private_key, public_pem

    login(client, "sue", "security")
    community = acme.community
    first = client_key_add(community=community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)
    second = public_pem(private_key("ES256", fresh=True))
    client_key_add(community=community, key_text=second, actor=TEST_ACTOR)
    page = url("clients_clientkey_retire", first.pk)
    assert client.post(page, {"reason": "laptop lost"}).status_code == 302

    back = client.get(page)  # the browser's Back, or the same link again
    text = back.content.decode()
    assert back.status_code == 200 and 'id="key-retired"' in text
    assert "já tinha sido aposentada" in text and first.kid in text
    assert f'href="{url("clients_clientkey_changelist")}"' in text
    again = client.post(page, {"reason": "twice"})  # a second submit acts no more
    assert again.status_code == 200 and 'id="key-retired"' in again.content.decode()
    assert AuditEvent.objects.filter(event_type="client_key_retired").count() == 1


def _open_in_console(client, community, reason: str = "phoned in") -> RevocationRequest:
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    posted = {"community": community.pk, "reason": reason, "form_key": form_key(client, page)}
    assert client.post(page, posted).status_code == 302
    return RevocationRequest.objects.get(reason=reason)


def test_a_request_staff_open_in_the_console_is_recorded_and_worded_as_theirs(client, acme):
    opened = _open_in_console(client, acme.community)
    assert opened.source == RevocationRequest.Source.STAFF
    opened_row = AuditEvent.objects.get(event_type="revocation_request_opened")
    assert opened_row.details["source"] == "staff"
    login(client, "sue", "security")
    text = client.get(url("tokens_revocationrequest_handle", opened.pk)).content.decode()
    assert "Aberto no console por sam: phoned in" in text and "O parceiro relatou" not in text
    change = client.get(url("tokens_revocationrequest_change", opened.pk)).content.decode()
    assert "equipe (console)" in change


def test_a_request_the_partner_opens_still_says_the_partner_reported(api, client, acme):
    response = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": "leaked in CI"},
        format="json",
    )
    assert response.status_code < 300, response.content
    opened = RevocationRequest.objects.get()
    assert opened.source == RevocationRequest.Source.PARTNER
    login(client, "sue", "security")
    text = client.get(url("tokens_revocationrequest_handle", opened.pk)).content.decode()
    assert "O parceiro relatou: leaked in CI" in text


# --- the policy, a pending request and every ending secret, where a secret is handed over ---------


def _keys_only(client, community) -> None:
    page = url("clients_clientauthpolicy_set", community.pk)
    posted = {"methods": ["private_key_jwt"], "dpop": "off", "allowed_ips": "", "reason": "keys"}
    assert client.post(page, {**posted, "confirm_lockout": "on"}).status_code == 302


def test_a_policy_without_secrets_is_shown_where_a_secret_is_rotated_or_a_request_completed(client, acme):
    community = acme.community
    login(client, "sue", "security")
    change = client.get(url("communities_community_change", community.pk)).content.decode()
    assert 'id="client-auth-policy"' in change and "client_secret" in change  # the default: secrets
    _keys_only(client, community)
    change = client.get(url("communities_community_change", community.pk)).content.decode()
    line = change.split('id="client-auth-policy">')[1].split("</p>")[0]
    assert "private_key_jwt" in line and "client_secret" not in line

    rotate = client.get(url("communities_community_rotate_secret", community.pk)).content.decode()
    assert 'id="policy-refuses-secrets"' in rotate and "não aceita segredos do parceiro" in rotate
    assert "401" in rotate.split('id="policy-refuses-secrets"')[1].split("</p>")[0]

    revocation = _open_in_console(client, community)
    client.force_login(User.objects.get(username="sue"))
    complete = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    assert 'id="policy-refuses-secrets"' in complete and "não aceita segredos do parceiro" in complete


def test_a_policy_with_secrets_says_nothing_more_on_the_rotate_page(client, acme):
    login(client, "sue", "security")
    rotate = client.get(url("communities_community_rotate_secret", acme.community.pk)).content.decode()
    assert 'id="policy-refuses-secrets"' not in rotate and 'id="pending-request"' not in rotate
    assert 'name="grace"' in rotate


def test_the_completion_page_lists_every_secret_it_ends_as_the_audit_row_records(client, acme):
    from datetime import timedelta

    from audit.services import Actor
    from clients.models import ClientSecret
    from tokens.services import community_rotate_secret

    community = acme.community
    revocation = _open_in_console(client, community)  # every secret suspended
    someone = Actor.command("rotate_secret")
    community_rotate_secret(community=community, actor=someone, grace=timedelta(hours=24))
    community_rotate_secret(community=community, actor=someone, grace=timedelta(hours=24))
    current, in_grace = ClientSecret.objects.filter(community=community).order_by("-created_at")[:2]
    assert in_grace.valid_until is not None and current.valid_until is None

    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", revocation.pk)
    shown = client.get(handle).content.decode()
    listed = shown.split('id="ending-secrets">')[1].split("</ul>")[0]
    assert listed.count("<li>") == 2
    assert current.hint in listed and "sem data de fim" in listed
    assert in_grace.hint in listed and "funciona até" in listed
    assert "2 segredos" in shown and 'id="nothing-else-ends"' not in shown

    key = shown.split('name="form_key" value="')[1].split('"')[0]
    hints = shown.split('name="newer_hint" value="')[1].split('"')[0]
    done = client.post(
        handle, {"reason": "done", "form_key": key, "newer_hint": hints, "end_newer_secret": "on"}
    )
    assert done.status_code == 302
    ended = AuditEvent.objects.filter(event_type="secret_rotated").latest("id").details["ended_hints"]
    assert sorted(ended) == sorted([current.hint, in_grace.hint])


def test_a_completion_that_ends_no_working_secret_says_so(client, acme):
    revocation = _open_in_console(client, acme.community)
    login(client, "sue", "security")
    shown = client.get(url("tokens_revocationrequest_handle", revocation.pk)).content.decode()
    assert 'id="nothing-else-ends"' in shown and 'id="form-danger"' not in shown


def test_rotating_with_a_pending_request_links_to_it_and_offers_no_grace(client, acme):
    community = acme.community
    revocation = _open_in_console(client, community)
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", community.pk)
    shown = client.get(page).content.decode()
    banner = shown.split('id="pending-request">')[1].split("</p>")[0]
    assert url("tokens_revocationrequest_change", revocation.pk) in banner
    assert f"Conclua o pedido #{revocation.pk} em vez disso" in banner
    assert 'name="grace"' not in shown and 'id="no-grace"' in shown

    key = form_key(client, page)
    assert client.post(page, {"grace": "24h", "reason": "by hand", "form_key": key}).status_code == 302
    event = AuditEvent.objects.filter(event_type="secret_rotated").latest("id")
    assert event.details["grace_seconds"] == 0


def test_with_no_grace_on_offer_the_rotate_page_does_not_hint_at_one(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    usual = client.get(page).content.decode()
    assert 'name="grace"' in usual and "Com janela de tolerância" in usual
    _open_in_console(client, acme.community)
    _token(acme.community, jti="issued-since")  # a live token, so the revoke box (and its help) shows
    client.force_login(User.objects.get(username="sue"))
    shown = client.get(page).content.decode()
    assert 'name="grace"' not in shown and 'id="no-grace"' in shown
    assert "Com janela de tolerância" not in shown and "escolha “Nenhuma”" not in shown
    assert "antes que o antigo pare" not in shown  # no old secret works: nothing to stop later
    assert "até expirar, a menos que sejam revogados aqui" in shown


def test_registering_a_key_warns_when_the_policy_does_not_accept_keys(client, acme):
    from tests.keyfactory import private_key, public_pem

    login(client, "sue", "security")
    add = url("clients_clientkey_add")
    posted = {"community": acme.community.pk, "public_key": public_pem(private_key("ES256"))}
    refused = client.post(add, posted).content.decode()  # the default policy: secrets only
    warning = refused.split('id="policy-refuses-keys">', 1)[1].split("</p>", 1)[0]
    assert "não aceita chaves" in warning and "401" in warning
    assert refused.index('id="policy-refuses-keys"') < refused.index('id="register-key"')
    policy = url("clients_clientauthpolicy_set", acme.community.pk)
    both = {
        "methods": ["client_secret", "private_key_jwt"],
        "dpop": "off",
        "allowed_ips": "",
        "reason": "keys",
    }
    assert client.post(policy, both).status_code == 302
    accepted = client.post(add, posted).content.decode()
    assert 'id="key-fingerprint"' in accepted and 'id="policy-refuses-keys"' not in accepted


def _crumbs(page: str) -> str:
    return page.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]


def test_action_pages_show_the_partners_level_in_their_breadcrumbs(api, client, acme):
    from django.urls import reverse

    from tests.conftest import issue_token

    issue_token(api, acme)
    login(client, "sue", "security")
    partners = f'<a href="{reverse("admin:app_list", args=["communities"])}">Parceiros</a>'
    change = _crumbs(client.get(url("communities_community_change", acme.community.pk)).content.decode())
    assert partners in change  # the admin's own page: the level the action pages lacked
    for name in ("rotate_secret", "revoke_tokens", "deactivate"):
        page = client.get(url(f"communities_community_{name}", acme.community.pk))
        assert page.status_code == 200, name
        crumbs = _crumbs(page.content.decode())
        assert partners in crumbs and url("communities_community_changelist") in crumbs, (name, crumbs)


def test_no_call_to_action_counts_zero_tokens(api, client, acme):
    from tests.conftest import issue_token
    from tokens.models import IssuedToken

    login(client, "sue", "security")
    community = acme.community
    change = client.get(url("communities_community_change", community.pk)).content.decode()
    assert 'id="revoke-tokens"' not in change  # no live token: nothing to offer
    revoke_all = client.get(url("communities_community_revoke_tokens", community.pk), follow=True)
    text = revoke_all.content.decode()
    assert "não há nada para revogar" in text and "Revogar 0" not in text
    deactivate = client.get(url("communities_community_deactivate", community.pk)).content.decode()
    assert "não tem nenhum token ativo" in deactivate and " 0 token" not in deactivate

    issue_token(api, acme)
    token = IssuedToken.objects.get()
    assert (
        client.post(url("communities_community_revoke_tokens", community.pk), {"reason": "x"}).status_code
        == 302
    )
    one = client.get(url("tokens_issuedtoken_revoke", token.pk), follow=True).content.decode()
    assert "não há nada para revogar" in one and "Revogar 0" not in one and 'id="confirm-form"' not in one
    selected = client.post(
        url("tokens_issuedtoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
        follow=True,
    ).content.decode()
    assert "não há nada para revogar" in selected and "Revogar 0" not in selected


def test_the_prompt_says_the_form_is_kept_only_when_one_was_sent(client, acme):
    login(client, "sue", "security", password="pw-for-sue-123456")
    page = url("communities_community_rotate_secret", acme.community.pk)
    key = form_key(client, page)
    reached_by_a_link = _prompt_text(client, page)
    assert SECRET_PROMPT in reached_by_a_link and "fica guardado" not in reached_by_a_link
    with time_machine.travel(time.time() + 11 * 60):
        sent = client.post(page, {"grace": "1h", "reason": "typed", "form_key": key})
        assert sent.status_code == 302 and "/confirm-password/" in sent["Location"]
        prompt = client.get(sent["Location"]).content.decode()
    assert SECRET_PROMPT in prompt and "fica guardado" in prompt
