"""Low-severity slips a fresh-eyes review of the pt-BR console found, read through Django's test client:
the reset page says an open session goes to enrolment at its next click, a bad webhook URL reads "uma URL
válida", a community's name stands alone in its messages, a completed request's summary reads as a label,
the no-token banner says plainly why keys do not help, the deactivate page names who can reactivate, the
"token issued" row names its key by kid, and a deactivated community's secret page says so once."""

import pytest
from django.urls import reverse
from django.utils import translation

from communities.models import Community
from console.audit_details import details_list
from tests.conftest import TEST_ACTOR
from tests.test_admin import form_key, no_token_banner, submit_once, url
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_names_who_can_act import _member
from tests.test_console_review_followups import _messages
from tests.test_console_safety import login
from tokens.services import community_deactivate, revocation_request_open

pytestmark = pytest.mark.django_db


# --- a. the reset page says what the message after the reset says ---------------------------------------


def test_the_reset_page_says_an_open_session_goes_to_enrolment_at_its_next_click(client):
    login(client, "sue", "security")
    tom = login(client.__class__(), "tom", "security")
    page = _text(client.get(url("console_staffaccount_reset_second_factor", tom.pk)).content.decode())
    assert "Na próxima entrada ela cadastra um novo" not in page
    assert "uma sessão ainda aberta vai para o cadastro no próximo clique" in page


# --- b. a bad webhook URL --------------------------------------------------------------------------------


def test_a_bad_webhook_url_reads_uma_url_valida(client, acme):
    login(client, "sue", "security")
    page = reverse("admin:notifications_securitycontacts_add")
    response = client.post(
        page, {"community": acme.community.pk, "email_lines": "", "webhook_url": "https://exa mple/"}
    )
    said = response.content.decode()
    assert response.status_code == 200
    assert "Insira um URL válido" not in said and "uma URL válida" in said


# --- c. the community's name stands alone -----------------------------------------------------------------


def _renamed(community, name: str) -> Community:
    Community.objects.filter(pk=community.pk).update(name=name)
    community.refresh_from_db()
    return community


def test_reactivating_says_the_name_once_without_a_second_comunidade(client, acme):
    community = _renamed(acme.community, "Comunidade Antiga")
    community_deactivate(community=community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    page = url("communities_community_reactivate", community.pk)
    done = client.post(page, {"reason": "contract renewed"}, follow=True)
    said = _messages(done)
    assert f"{community} está ativa de novo." in said and "A comunidade Comunidade" not in said


# --- d. a completed request's summary on the already-shown secret page ---------------------------------


def test_the_already_shown_secret_page_does_not_read_pedido_without_an_article(client, acme):
    pending = revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    _secret, where, _posted = submit_once(
        client, url("tokens_revocationrequest_handle", pending.pk), {"grace": "0s", "reason": "confirmed"}
    )
    gone = client.get(where)
    said = _text(gone.content.decode())
    assert gone.status_code == 410
    assert f"O que foi feito naquele momento: {pending} foi concluído" not in said
    assert f"{pending} concluído: um novo segredo foi criado e mostrado uma vez." in said


# --- e. the banner says plainly why keys do not help ---------------------------------------------------


def test_the_pending_request_banner_says_plainly_the_policy_accepts_no_key(client, acme):
    revocation_request_open(community=acme.community, reason="leak", actor=TEST_ACTOR)
    login(client, "sue", "security")
    said = _text(no_token_banner(client, acme.community))
    assert "também" not in said
    assert "A política não aceita chaves (private_key_jwt)" in said


# --- f. the deactivate page names who can reactivate -------------------------------------------------


def test_the_deactivate_page_names_the_security_group_who_can_reactivate(client, acme):
    _member("sec1", "Ana")
    login(client, "sue", "security")
    said = _text(client.get(url("communities_community_deactivate", acme.community.pk)).content.decode())
    assert "até alguém reativá-la" not in said
    assert "até que alguém do grupo de segurança a reative" in said and "Ana" in said


# --- g. the "token issued" row names its key by kid ---------------------------------------------------


def test_a_token_issued_row_names_its_key_by_kid(acme):
    from clients.services import client_key_add
    from tests.keyfactory import private_key, public_pem

    key = client_key_add(
        community=acme.community, key_text=public_pem(private_key("ES256")), actor=TEST_ACTOR
    )
    with translation.override("pt-br"):
        html = str(details_list({"client_key_id": key.pk, "jti": "abc"}))
    assert key.kid in html and f"<dd>{key.pk}</dd>" not in html


# --- h. a deactivated community's secret page says so once ---------------------------------------------


def test_a_deactivated_communitys_secret_page_says_it_is_deactivated_once(client, acme):
    community_deactivate(community=acme.community, actor=TEST_ACTOR, reason="contract ended")
    login(client, "sue", "security")
    rotate = url("communities_community_rotate_secret", acme.community.pk)
    done = client.post(rotate, {"grace": "24h", "reason": "handover", "form_key": form_key(client, rotate)})
    shown = client.get(done["Location"])
    said = _text(shown.content.decode())
    assert shown.status_code == 200
    assert said.lower().count("desativada") == 1, said
