"""A fresh-eyes review of the console (support and security, pt-BR), through Django's test client: every
visit to a one-time form is a new form while a form sent again is refused; no allowlist that shuts out the
partner's address without a confirmation; what opening or completing a revocation request did, in words;
a key the policy refuses said so; what a factor reset removed and why the person must enrol; who can
lift a lock (never the locked person) and what lifting cleared; the secret an early end stops; the
community's whole history; what a recent action was; every form error at once; and support told to ask
security instead of rotating."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken

from audit.models import AuditEvent
from clients.models import ClientAuthPolicy, ClientSecret
from communities.models import Community
from console.second_factor import recovery_codes_issue
from tests.conftest import TEST_ACTOR, issue_token, verified_device
from tests.test_admin import FORM_KEY, form_key, submit_once, url
from tests.test_console_safety import login
from tokens.models import IssuedToken, RevocationRequest

pytestmark = pytest.mark.django_db
ALREADY_DONE = "já foi enviado"  # the "Isto já foi feito" page's sentence


def _messages(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


# --- 1. a new form on every visit; a form sent again is refused ----------------------------------------


def test_two_onboardings_in_a_row_each_get_a_fresh_form_and_back_then_submit_is_refused(client):
    login(client, "sue", "security")
    page = url("communities_community_add")
    _secret, _page, first = submit_once(client, page, {"client_id": "one", "name": "One"})
    again = client.get(page)  # a fresh click on "Adicionar comunidade"
    text = again.content.decode()
    assert again.status_code == 200 and ALREADY_DONE not in text
    assert FORM_KEY.search(text).group(1) != first["form_key"]
    submit_once(client, page, {"client_id": "two", "name": "Two"})

    replay = client.post(page, first)  # Back onto the first form (its key restored), then submit
    assert replay.status_code == 302 and "/admin/console/done/" in replay["Location"]
    assert ALREADY_DONE in client.get(replay["Location"]).content.decode()
    assert sorted(Community.objects.values_list("client_id", flat=True)) == ["one", "two"]


def test_two_revocation_requests_in_a_row_each_get_a_fresh_form(client, acme, globex):
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    first = {"community": acme.community.pk, "reason": "phoned", "form_key": form_key(client, page)}
    assert client.post(page, first).status_code == 302
    again = client.get(page)
    assert again.status_code == 200 and ALREADY_DONE not in again.content.decode()
    second = {"community": globex.community.pk, "reason": "mailed", "form_key": form_key(client, page)}
    assert second["form_key"] != first["form_key"]
    assert client.post(page, second).status_code == 302
    assert "/admin/console/done/" in client.post(page, first)["Location"]
    assert RevocationRequest.objects.count() == 2


def test_two_rotations_in_a_row_each_get_a_fresh_form(client, acme):
    login(client, "sue", "security")
    page = url("communities_community_rotate_secret", acme.community.pk)
    _secret, _page, first = submit_once(client, page, {"grace": "0s", "reason": "first"})
    again = client.get(page)
    assert again.status_code == 200 and ALREADY_DONE not in again.content.decode()
    submit_once(client, page, {"grace": "0s", "reason": "second"})
    assert ClientSecret.objects.filter(community=acme.community).count() == 3
    assert "/admin/console/done/" in client.post(page, first)["Location"]
    assert ClientSecret.objects.filter(community=acme.community).count() == 3


# --- 2. an allowlist that leaves out the partner's address -----------------------------------------


def test_an_allowlist_that_leaves_out_the_partners_address_needs_confirmation(api, client, acme):
    response = api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 200
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {
        "methods": ["client_secret"],
        "dpop": "off",
        "allowed_ips": "203.0.113.0/24",
        "reason": "office",
    }
    first = client.post(page, posted)
    text = first.content.decode()
    assert first.status_code == 200 and 'id="form-danger"' in text
    assert "198.51.100.7" in text and "último token emitido em" in text and "401" in text
    assert "Marque a caixa para recusar os endereços" in text
    assert not ClientAuthPolicy.objects.filter(community=acme.community).exists()

    assert client.post(page, {**posted, "confirm_addresses": "on"}).status_code == 302
    assert ClientAuthPolicy.objects.get(community=acme.community).allowed_ips == ["203.0.113.0/24"]
    change = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    ips = change.split('id="client-auth-ips">', 1)[1].split("</p>", 1)[0]
    assert "IPs de origem permitidos: 203.0.113.0/24" in ips and "só para pedidos de token" in ips


def test_an_allowlist_that_admits_the_partners_address_asks_nothing_more(api, client, acme):
    api.post(
        "/auth/token",
        {"client_id": "acme", "client_secret": acme.client_secret},
        format="json",
        REMOTE_ADDR="198.51.100.7",
    )
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["client_secret"], "dpop": "off", "allowed_ips": "198.51.100.0/24", "reason": "net"}
    assert client.post(page, posted).status_code == 302
    change = client.get(url("communities_community_change", acme.community.pk)).content.decode()
    assert "198.51.100.0/24" in change.split('id="client-auth-ips">', 1)[1].split("</p>", 1)[0]


# --- 3, 4. what opening and completing a revocation request did -----------------------------------


def test_opening_a_request_says_what_it_did_and_a_pending_one_is_named_before_saving(api, client, acme):
    issue_token(api, acme)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    posted = {"community": acme.community.pk, "reason": "phoned in", "form_key": form_key(client, page)}
    opened = client.post(page, posted, follow=True)
    said = _messages(opened)
    assert "1 token revogado e 1 segredo suspenso" in said
    assert "401" in said and "entregue um novo segredo" in said
    pending = RevocationRequest.objects.get()

    shown = client.get(f"{page}?community={acme.community.pk}").content.decode()
    notice = shown.split('id="pending-request">', 1)[1].split("</div>", 1)[0]
    assert "já tem um pedido de revogação pendente" in notice
    assert url("tokens_revocationrequest_change", pending.pk) in notice
    second = {"community": acme.community.pk, "reason": "again", "form_key": form_key(client, page)}
    refused = client.post(page, second)
    assert refused.status_code == 200 and 'id="pending-request"' in refused.content.decode()
    assert RevocationRequest.objects.count() == 1
    anyway = client.post(page, {**second, "open_another": "on"}, follow=True)
    assert RevocationRequest.objects.count() == 2
    assert "nenhum token ativo a revogar e nenhum segredo válido a suspender" in _messages(anyway)


def test_the_completion_page_note_says_no_token_remained(api, client, acme):
    issue_token(api, acme)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    client.post(page, {"community": acme.community.pk, "reason": "leak", "form_key": form_key(client, page)})
    login(client, "sue", "security")
    handle = url("tokens_revocationrequest_handle", RevocationRequest.objects.get().pk)
    posted = {"reason": "new secret sent", "form_key": form_key(client, handle)}
    shown = client.get(client.post(handle, posted)["Location"]).content.decode()
    note = shown.split('id="secret-note">', 1)[1].split("</p>", 1)[0]
    assert "Nenhum token ativo restava" in note and "0 tokens" not in note


# --- 5. a key the policy refuses --------------------------------------------------------------------


def test_a_key_registered_under_a_policy_that_refuses_keys_says_it_cannot_be_used(client, acme):
    from tests.keyfactory import private_key, public_pem

    login(client, "sue", "security")
    add = url("clients_clientkey_add")
    pem = public_pem(private_key("ES256"))
    shown = client.post(add, {"community": acme.community.pk, "public_key": pem}).content.decode()
    thumbprint = shown.split('id="key-fingerprint">', 1)[1].split("</p>", 1)[0].strip()
    confirm = {
        "step": "confirm",
        "community": acme.community.pk,
        "public_key": pem,
        "thumbprint": thumbprint,
        "confirmed": "on",
    }
    registered = client.post(add, confirm, follow=True)
    said = _messages(registered)
    assert (
        "registrada" in said and "não pode ser usada até que a política da comunidade aceite chaves" in said
    )
    assert "ainda não: a política não aceita chaves" in registered.content.decode()  # the keys list


# --- 6. what a second-factor reset removed, and why the person is enrolling --------------------------


def test_a_reset_names_what_it_removed_and_the_enrolment_page_says_who_reset_it(client):
    sue = login(client, "sue", "security")
    sue.first_name = "Sue"
    sue.save()
    tom = User.objects.create_user("tom", password="pw-tom-123456789", is_staff=True, first_name="Tom")
    tom.groups.add(Group.objects.get(name="security"))
    verified_device(tom)
    recovery_codes_issue(user=tom, actor=TEST_ACTOR)
    reset = url("console_staffaccount_reset_second_factor", tom.pk)
    done = client.post(reset, {"reason": "Tom phoned, voice checked"}, follow=True)
    said = _messages(done)
    assert "O que foi removido: o aplicativo autenticador e os códigos de recuperação" in said
    assert "dispositivo" not in said and not StaticToken.objects.filter(device__user=tom).exists()

    tom_client = Client(REMOTE_ADDR="203.0.113.8")
    signed = tom_client.post(
        "/admin/login/?next=/admin/", {"username": "tom", "password": "pw-tom-123456789"}
    )
    assert signed.status_code == 302
    enrol = tom_client.get("/admin/console/second-factor/enrol/").content.decode()
    note = enrol.split('id="second-factor-reset-note">', 1)[1].split("</p>", 1)[0]
    assert "redefinido por Sue" in note and "cadastre um novo" in note


# --- 7. the lock page and lifting a lock ------------------------------------------------------------


def test_the_lock_page_never_names_the_locked_person_and_lifting_counts_the_failures(client):
    for name in ("sue", "tom"):
        user = User.objects.create_user(name, password="pw-123456789", is_staff=True, first_name=name.title())
        user.groups.add(Group.objects.get(name="security"))
    outsider = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        outsider.post("/admin/login/", {"username": "sue", "password": "wrong"})
    locked = outsider.post("/admin/login/", {"username": "sue", "password": "pw-123456789"})
    page = locked.content.decode()
    # Not signed in, the visitor may be anyone: the page names no one, and says who helps by role.
    assert locked.status_code == 429 and 'id="security-members"' not in page
    assert "Tom" not in page and "Sue" not in page and "grupo de segurança" in page

    client.force_login(User.objects.get(username="tom"))
    lift = url("console_staffaccount_lift_lock", User.objects.get(username="sue").pk)
    assert client.post(lift, {"reason": "Sue phoned"}).status_code == 302
    row = AuditEvent.objects.get(event_type="staff_lock_lifted")
    assert (row.details["attempts_cleared"], row.details["addresses_cleared"]) == (
        settings.AXES_FAILURE_LIMIT,
        1,
    )


# --- 8. ending the old secret names it ----------------------------------------------------------------


def test_ending_the_old_secret_names_it_and_its_last_use(api, client, acme):
    issue_token(api, acme)  # the first secret is used now
    login(client, "sue", "security")
    submit_once(
        client, url("communities_community_rotate_secret", acme.community.pk), {"grace": "24h", "reason": "r"}
    )
    old = ClientSecret.objects.filter(community=acme.community).order_by("created_at").first()
    shown = client.get(url("communities_community_stop_previous_secret", acme.community.pk)).content.decode()
    question = shown.split('id="confirm-question">', 1)[1].split("</div>", 1)[0]
    assert old.hint in question and "último uso: agora há pouco" in question


# --- 9. the community's history and Recent actions -------------------------------------------------


def test_the_history_lists_every_audited_action_newest_first_and_no_traffic(api, client, acme):
    issue_token(api, acme)
    login(client, "sue", "security")
    policy = url("clients_clientauthpolicy_set", acme.community.pk)
    both = {"methods": ["client_secret", "private_key_jwt"], "dpop": "off", "allowed_ips": "", "reason": "k"}
    assert client.post(policy, both).status_code == 302
    client.post(url("communities_community_revoke_tokens", acme.community.pk), {"reason": "cleanup"})
    client.post(url("communities_community_deactivate", acme.community.pk), {"reason": "contract ended"})
    page = client.get(url("communities_community_history", acme.community.pk))
    text = page.content.decode()
    rows = text.split('id="community-history">', 1)[1]
    order = [rows.index(f"history-{kind}") for kind in ("community_deactivated", "tokens_revoked_all")]
    order += [rows.index("history-client_auth_policy_set"), rows.index("history-community_created")]
    assert page.status_code == 200 and order == sorted(order)  # newest first
    assert "history-token_issued" not in rows  # the partner's traffic is in the usage figures


def test_recent_actions_say_a_token_was_revoked_not_changed(api, client, acme):
    issue_token(api, acme)
    login(client, "sam", "support")
    token = IssuedToken.objects.get()
    assert (
        client.post(
            url("tokens_issuedtoken_revoke", token.pk), {"reason": "lost", "confirm": "1"}
        ).status_code
        == 302
    )
    recent = client.get("/admin/").content.decode().split('id="recent-actions-module"', 1)[1]
    assert "Revogado: lost" in recent and "Alterado:" not in recent


# --- 10. every error of the onboarding form at once ----------------------------------------------------


def test_the_onboarding_form_shows_every_field_error_at_once(client):
    login(client, "sue", "security")
    page = url("communities_community_add")
    posted = {
        "client_id": "Loja Ação!",
        "name": "Loja",
        "token_lifetime": "2 horas",
        "form_key": form_key(client, page),
    }
    text = client.post(page, posted).content.decode()
    assert "Até 64 letras, dígitos" in text and "Use um número e uma unidade" in text
    assert not Community.objects.exists()


# --- 11. the one-time page tells support to ask security ---------------------------------------------


def test_a_shown_secret_page_tells_support_to_ask_security_and_security_to_rotate(client, acme):
    login(client, "sue", "security")
    _secret, secret_page, _posted = submit_once(
        client, url("communities_community_rotate_secret", acme.community.pk), {"grace": "0s", "reason": "r"}
    )
    own = client.get(secret_page).content.decode()
    assert "troque o segredo outra vez na página da comunidade" in own
    login(client, "sam", "support")
    support = client.get(secret_page)  # someone else's link: never "already shown", which is not true
    assert support.status_code == 404 and "Este link de segredo não é seu" in support.content.decode()
    assert "troque o segredo outra vez na página da comunidade" not in support.content.decode()


# --- round 3. a revocation request suspends secrets only: the keys the policy admits keep working -------


def _with_key(created):
    from clients.services import PolicyChange, client_auth_policy_set, client_key_add
    from tests.keyfactory import private_key, public_pem

    community = created.community
    change = PolicyChange(methods=["client_secret", "private_key_jwt"])
    client_auth_policy_set(community=community, change=change, actor=TEST_ACTOR)
    return client_key_add(community=community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR)


def test_opening_a_request_says_the_active_key_still_works_and_links_to_the_keys(api, client, acme):
    _with_key(acme)
    issue_token(api, acme)
    login(client, "sam", "support")
    page = url("tokens_revocationrequest_add")
    keys_link = f"/admin/clients/clientkey/?community__id__exact={acme.community.pk}"
    shown = client.get(f"{page}?community={acme.community.pk}").content.decode()
    warning = shown.split('id="form-warning">', 1)[1].split("</div>", 1)[0]
    assert "a chave ativa da comunidade continua funcionando" in warning
    assert "fica sem acesso" not in warning and keys_link in warning
    assert "assim que você abrir" in warning
    assert "acme" in client.get(page).content.decode().split('id="keys-elsewhere">', 1)[1]

    posted = {"community": acme.community.pk, "reason": "phoned", "form_key": form_key(client, page)}
    opened = client.post(page, posted, follow=True)
    said = _messages(opened)
    assert "1 token revogado e 1 segredo suspenso" in said and "continua funcionando" in said
    assert "401" not in said and keys_link in said
    assert ClientSecret.objects.get(community=acme.community).valid_until is not None
    done = client.get(client.post(page, posted)["Location"]).content.decode()
    summary = done.split('id="form-done-summary">', 1)[1].split("</p>", 1)[0]
    assert (
        "continua funcionando" in summary
        and "aposentá-la é uma ação à parte" in summary
        and "401" not in summary
    )

    login(client, "sue", "security")
    handle = client.get(url("tokens_revocationrequest_handle", RevocationRequest.objects.get().pk))
    assert "continua funcionando" in handle.content.decode().split('id="keys-still-work">', 1)[1]


def test_without_a_key_the_request_form_still_says_the_partner_is_cut_off(client, acme):
    login(client, "sam", "support")
    shown = client.get(f"{url('tokens_revocationrequest_add')}?community={acme.community.pk}")
    warning = shown.content.decode().split('id="form-warning">', 1)[1].split("</div>", 1)[0]
    assert "fica sem acesso" in warning and "continua funcionando" not in warning


# --- round 3. "Revogar todos os tokens" says how, and whether, the partner gets new ones ----------------


def _revoke_all_consequence(client, community) -> str:
    page = client.get(url("communities_community_revoke_tokens", community.pk)).content.decode()
    return page.split('id="confirm-question">', 1)[1].split("</div>", 1)[0]


def test_revoking_all_tokens_says_the_partner_gets_new_ones_with_its_secret(api, client, acme):
    issue_token(api, acme)
    login(client, "sam", "support")
    said = _revoke_all_consequence(client, acme.community)
    assert "pedir tokens novos com o segredo dele" in said and "IPs de origem" not in said


def test_revoking_all_tokens_with_only_a_key_working_says_with_its_key_and_the_allowlist(api, client, acme):
    from clients.services import PolicyChange, client_auth_policy_set

    issue_token(api, acme)
    _with_key(acme)
    change = PolicyChange(methods=["private_key_jwt"], allowed_ips=["203.0.113.0/24"])
    client_auth_policy_set(community=acme.community, change=change, actor=TEST_ACTOR)
    login(client, "sam", "support")
    said = _revoke_all_consequence(client, acme.community)
    assert "pedir tokens novos com a chave dele" in said and "segredo dele" not in said
    assert "Só a partir dos IPs de origem permitidos: 203.0.113.0/24" in said


def test_revoking_all_tokens_with_no_working_credential_says_no_new_tokens(api, client, acme):
    issue_token(api, acme)
    ClientSecret.objects.filter(community=acme.community).update(valid_until="2020-01-01T00:00:00Z")
    login(client, "sam", "support")
    said = _revoke_all_consequence(client, acme.community)
    assert "NÃO vai conseguir pedir tokens novos" in said and "segredo dele" not in said
    posted = {"reason": "cleanup"}
    assert (
        client.post(url("communities_community_revoke_tokens", acme.community.pk), posted).status_code == 302
    )
    assert not IssuedToken.objects.filter(community=acme.community, revoked_at__isnull=True).exists()


# --- round 3. turning secrets off while the partner still uses one -----------------------------------------


def test_turning_secrets_off_while_a_secret_was_used_recently_needs_confirmation(api, client, acme):
    key = _with_key(acme)  # registered, never used
    issue_token(api, acme)  # with the secret: used now
    login(client, "sue", "security")
    page = url("clients_clientauthpolicy_set", acme.community.pk)
    posted = {"methods": ["private_key_jwt"], "dpop": "off", "allowed_ips": "", "reason": "keys now"}
    first = client.post(page, posted)
    text = first.content.decode()
    danger = text.split('id="form-danger">', 1)[1].split("</div>", 1)[0]
    assert (
        first.status_code == 200 and "obteve um token com um segredo" in danger and "agora há pouco" in danger
    )
    assert "Marque a caixa para desligar os segredos" in text
    assert ClientAuthPolicy.objects.get(community=acme.community).allow_client_secret

    assert client.post(page, {**posted, "confirm_secrets_off": "on"}).status_code == 302
    assert not ClientAuthPolicy.objects.get(community=acme.community).allow_client_secret

    # Once the partner has signed with a key, turning secrets off asks nothing more.
    client.post(page, {**posted, "methods": ["client_secret", "private_key_jwt"]})
    type(key).objects.filter(pk=key.pk).update(last_used_at="2026-01-01T00:00:00Z")
    assert client.post(page, posted).status_code == 302


# --- round 3. Django's own messages, worded for Portuguese -----------------------------------------------


def test_a_missing_record_a_history_and_sorting_read_right_in_portuguese(client, acme):
    key = _with_key(acme)
    login(client, "sue", "security")
    missing = client.get(url("tokens_revocationrequest_change", 999), follow=True)
    said = _messages(missing)
    assert "Não há registro de pedido de revogação com o ID “999”. Talvez tenha sido excluído." in said
    assert "O pedido" not in said and "removido." not in said

    history = client.get(url("clients_clientkey_history", key.pk)).content.decode()
    assert history.count("trilha de auditoria") >= 1 and "provavelmente não foi adicionado" not in history

    sorted_list = client.get(url("communities_community_changelist") + "?o=1").content.decode()
    assert 'title="Alternar ordenação"' in sorted_list and "ordenção" not in sorted_list


# --- round 3. one word for each thing ------------------------------------------------------------------


def test_a_revocation_request_is_opened_everywhere_and_completed_as_o_pedido(api, client, acme):
    login(client, "sam", "support")
    changelist = client.get(url("tokens_revocationrequest_changelist")).content.decode()
    assert "Abrir um pedido de revogação" in changelist and "Adicionar pedido" not in changelist
    add = client.get(url("tokens_revocationrequest_add")).content.decode()
    title = add.split("<title>", 1)[1].split("</title>", 1)[0]
    crumbs = add.split('class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert "Abrir um pedido de revogação" in title and "Abrir um pedido de revogação" in crumbs
    assert "Adicionar" not in title + crumbs and "assim que você abrir" in add
    assert "grupo segurança" not in add and "salvar" not in add.split('id="form-warning">', 1)[1]
    index = client.get("/admin/").content.decode()
    assert "Abrir um pedido de revogação" in index
    posted = {
        "community": acme.community.pk,
        "reason": "phoned",
        "form_key": form_key(client, url("tokens_revocationrequest_add")),
    }
    client.post(url("tokens_revocationrequest_add"), posted)

    login(client, "sue", "security")
    assert "Cadastrar uma comunidade" in client.get("/admin/").content.decode()
    handle = client.get(url("tokens_revocationrequest_handle", RevocationRequest.objects.get().pk))
    title = handle.content.decode().split("<title>", 1)[1].split("</title>", 1)[0]
    assert "Concluir o pedido #" in title and "Concluir Pedido" not in title


def test_the_second_factor_help_tells_support_a_member_not_another_member():
    from tests.test_staff_second_factor import member, password_only

    member("sam", "support", enrolled=False)
    member("tom")
    page = password_only("sam").get("/admin/console/second-factor/help/").content.decode()
    who = page.split('id="who-resets">', 1)[1].split("</p>", 1)[0]
    assert "um membro do grupo de segurança" in who and "outro membro" not in who
    member("sue", enrolled=False)
    page = password_only("sue").get("/admin/console/second-factor/help/").content.decode()
    assert "outro membro do grupo de segurança" in page.split('id="who-resets">', 1)[1]


def test_revoking_all_tokens_under_a_dpop_policy_says_a_proof_is_needed_too(api, client, acme):
    """ "With its secret" alone would be wrong when the policy requires DPoP: a request without a proof
    gets 401."""
    from clients.services import PolicyChange, client_auth_policy_set

    issue_token(api, acme)
    client_auth_policy_set(community=acme.community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)
    login(client, "sam", "support")
    said = _revoke_all_consequence(client, acme.community)
    assert "com o segredo dele" in said and "prova DPoP" in said and "exige DPoP" in said
