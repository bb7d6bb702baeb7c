"""What the console says, in pt-BR, read through Django's test client: support, who cannot complete a
revocation request, is offered to see it (not to complete it) and told who can; rotating the secret of a
community whose policy refuses secrets does not say the old one still works; and an outsider's wrong
secret reads as what it is (wrong, or too old to be compared), not as an ended or suspended one."""

import pytest

from audit.models import AuditEvent
from clients.services import PolicyChange, client_auth_policy_set
from tests.conftest import TEST_ACTOR
from tests.test_admin import no_token_banner, staff, url
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_refusals_and_policy_history import _refused_as
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.models import RevocationRequest
from tokens.services import community_rotate_secret, revocation_request_open

pytestmark = pytest.mark.django_db


def _note(page: str, note_id: str) -> str:
    return page.split(f'id="{note_id}">', 1)[1].split("</p>", 1)[0]


# --- 1. support sees a pending request it cannot complete, and who can -------------------------------


def test_support_is_offered_to_see_the_pending_request_not_to_complete_it(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sam", "support")
    banner = no_token_banner(client, acme.community)
    assert url("tokens_revocationrequest_change", revocation.pk) in banner
    assert f"Ver o pedido #{revocation.pk}" in _text(banner)
    assert f"Concluir o pedido #{revocation.pk}" not in _text(banner)


def test_security_is_still_offered_to_complete_the_pending_request(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    assert f"Concluir o pedido #{revocation.pk}" in _text(no_token_banner(client, acme.community))


def test_the_request_page_tells_support_which_security_members_can_complete_it(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    susana = staff("susana", "security")
    susana.first_name, susana.last_name = "Susana", "Lima"
    susana.save()
    gone = staff("gone", "security")
    gone.is_active = False
    gone.save()
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    said = _text(_note(page, "only-security-completes"))
    assert "Só um membro do grupo de segurança pode concluir este pedido" in said
    assert "Susana Lima" in said and "gone" not in said
    assert 'id="handle-request"' not in page


def test_the_request_page_says_to_ask_a_superuser_when_security_has_no_active_member(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    said = _text(_note(page, "only-security-completes"))
    assert (
        "nenhum membro ativo no grupo de segurança: peça a um administrador do console (superusuário)" in said
    )


def test_security_sees_the_complete_button_and_no_only_security_note(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    assert 'id="handle-request"' in page and 'id="only-security-completes"' not in page


def test_a_completed_request_tells_support_nothing_about_completing_it(client, acme):
    revocation = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    revocation.status = RevocationRequest.Status.DONE
    revocation.save(update_fields=["status"])
    login(client, "sam", "support")
    page = client.get(url("tokens_revocationrequest_change", revocation.pk)).content.decode()
    assert 'id="only-security-completes"' not in page


# --- 2. rotating under a policy that refuses secrets: the old one does not work either ----------------


def test_rotating_under_a_keys_only_policy_does_not_say_the_old_secret_still_works(client, acme):
    _with_key(acme)
    client_auth_policy_set(
        community=acme.community, change=PolicyChange(methods=["private_key_jwt"]), actor=TEST_ACTOR
    )
    login(client, "sue", "security")
    page = client.get(url("communities_community_rotate_secret", acme.community.pk)).content.decode()
    warning = _text(_note(page, "form-warning"))
    assert "precisa dele antes que o antigo pare" not in warning
    assert "Nem ele nem o antigo funcionam enquanto a política não aceitar segredos" in warning


# --- 3. an outsider's wrong secret: wrong, or too old to be compared --------------------------------


def test_a_wrong_secret_reads_as_wrong_or_too_old_not_as_ended_or_suspended(api, client, acme):
    old = acme.client_secret
    for reason in ("routine", "routine again"):
        community_rotate_secret(community=acme.community, actor=TEST_ACTOR, reason=reason)
    _refused_as(api, "acme", old)  # ended, and older than the two secrets compared
    _refused_as(api, "nobody", old)
    login(client, "sue", "security")
    known = AuditEvent.objects.get(event_type="client_auth_failed", client_id="acme")
    assert known.details.get("reason") == "invalid_client"
    page = _text(client.get(url("audit_auditevent_change", known.pk)).content.decode())
    assert "encerrado ou suspenso" not in page
    assert "segredo errado ou antigo demais" in page and "dois segredos mais recentes" in page
    unknown = AuditEvent.objects.get(event_type="client_auth_failed", client_id="nobody")
    page = _text(client.get(url("audit_auditevent_change", unknown.pk)).content.decode())
    assert "encerrado ou suspenso" not in page
    assert "segredo errado ou antigo demais" in page and "ou client_id desconhecido" in page
