"""A fresh-eyes review of the console (pt-BR), through Django's test client: retiring a partner key
counts, before confirming, the live tokens issued with it that the retirement revokes (or says there is
none), as "revoke all tokens" and "deactivate" count before."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.services import client_key_add
from tests.conftest import TEST_ACTOR
from tests.keyfactory import private_key, public_pem
from tests.test_admin import url
from tests.test_console_dpop_and_request_truths import _token
from tests.test_console_keys_and_lockout_causes import _text
from tests.test_console_review_followups import _with_key
from tests.test_console_safety import login
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db


# --- 1. retiring a key counts the tokens it revokes before confirming --------------------------------


def _two_keys(created):
    """The key to retire, and another active one (so the page does not ask about the last key)."""
    key = _with_key(created)
    client_key_add(
        community=created.community, key_text=public_pem(private_key("ES256", fresh=True)), actor=TEST_ACTOR
    )
    return key


def _question(client, key) -> str:
    page = client.get(url("clients_clientkey_retire", key.pk))
    assert page.status_code == 200
    return _text(page.content.decode().split('id="confirm-question">', 1)[1].split("</div>", 1)[0])


def test_retiring_a_key_counts_the_live_tokens_issued_with_it_before_confirming(client, acme):
    key = _two_keys(acme)
    community = acme.community
    _token(community, key=key, jti="with-key-1")
    _token(community, key=key, jti="with-key-2")
    _token(community, jti="with-secret")  # not issued with the key: neither counted nor revoked
    expired = _token(community, key=key, jti="expired")
    IssuedToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    login(client, "sue", "security")
    said = _question(client, key)
    assert "2 tokens ativos emitidos com esta chave serão revogados" in said

    done = client.post(url("clients_clientkey_retire", key.pk), {"reason": "laptop lost"}, follow=True)
    assert "2 tokens revogados" in done.content.decode()
    revoked = set(IssuedToken.objects.filter(revoked_at__isnull=False).values_list("jti", flat=True))
    assert revoked == {"with-key-1", "with-key-2"}


def test_retiring_a_key_counts_one_live_token_in_the_singular(client, acme):
    key = _two_keys(acme)
    _token(acme.community, key=key, jti="with-key")
    login(client, "sue", "security")
    assert "1 token ativo emitido com esta chave será revogado" in _question(client, key)


def test_retiring_a_key_with_no_live_token_says_there_is_none_and_revokes_nothing(client, acme):
    key = _two_keys(acme)
    _token(acme.community, jti="with-secret")
    login(client, "sue", "security")
    said = _question(client, key)
    assert "Nenhum token ativo foi emitido com esta chave" in said
    assert "serão revogados" not in said and "será revogado" not in said
    client.post(url("clients_clientkey_retire", key.pk), {"reason": "planned"})
    key.refresh_from_db()
    assert key.retired_at is not None
    assert not IssuedToken.objects.filter(revoked_at__isnull=False).exists()
