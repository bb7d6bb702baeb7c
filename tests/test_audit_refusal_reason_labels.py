"""Every reason an authentication or API call refusal records in the audit trail reads as pt-BR words on
the console, not as the raw code: the key-login (private_key_jwt) refusals, the DPoP proof refusals, the
token endpoint's and the API's own."""

import ast
import html
import re
from pathlib import Path

import pytest
from django.utils import translation

from audit.models import AuditEvent
from clients.assertions import ASSERTION_REFUSALS
from console.audit_details import VALUES, details_list
from tests.keyfactory import assertion, private_key
from tests.test_admin import url
from tests.test_console_safety import login
from tests.test_private_key_jwt import TOKEN_URL, enable_keys, refused, token_with
from tokens.dpop import PROOF_REFUSALS

ROOT = Path(__file__).resolve().parent.parent
#: Reasons written by the token endpoint and the API besides the assertion and proof ones.
OTHER_REFUSALS = {
    "invalid_client",
    "method_not_allowed",
    "ip_not_allowed",
    "dpop_proof_required",
    "community_inactive",
    "secret_ended",
    "replayed_jti",
    "cut_off_while_issuing",
}
ALL_REFUSALS = sorted(ASSERTION_REFUSALS | {f"dpop_{code}" for code in PROOF_REFUSALS} | OTHER_REFUSALS)


def _literals(exception_or_call: str, apps=("clients", "tokens")) -> set[str]:
    """String literals passed to ``exception_or_call`` (first argument or ``reason=``) in the apps."""
    found: set[str] = set()
    for app in apps:
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name != exception_or_call:
                    continue
                values = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "reason")]
                found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def test_the_refusal_sets_hold_every_code_the_code_raises():
    assert _literals("AssertionRejected") == ASSERTION_REFUSALS
    assert _literals("ProofRejected") == PROOF_REFUSALS
    recorded = _literals("client_refuse") | _literals("refuse") | _literals("api_call_refused")
    recorded |= {"method_not_allowed", "ip_not_allowed", "dpop_proof_required"}  # _policy_refusal
    recorded |= {"community_inactive", "secret_ended"}  # NotEntitled
    assert recorded - ASSERTION_REFUSALS <= OTHER_REFUSALS


@pytest.mark.parametrize("code", ALL_REFUSALS)
def test_every_refusal_reason_reads_as_portuguese_words(code):
    assert code in VALUES
    with translation.override("en"):
        english = str(VALUES[code])
    with translation.override("pt-br"):
        words = str(VALUES[code])
        shown = html.unescape(details_list({"reason": code, "method": "private_key_jwt"}))
    assert words not in (code, english)
    assert words in shown
    assert f">{code}<" not in shown.split("<details")[0]


def _page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.mark.django_db
def test_a_wrong_signature_reads_in_portuguese_on_the_audit_trail(api, client):
    from tests.conftest import make_community

    acme = make_community("acme", members={"123": 1500})
    enable_keys(acme.community, private_key("ES256"))
    refused(
        token_with(api, assertion(private_key("ES256", fresh=True), "acme", TOKEN_URL))
    )  # another key signed it
    event = AuditEvent.objects.filter(event_type="client_auth_failed").latest("id")
    assert event.details["reason"] == "bad_signature_or_unknown_key"

    login(client, "sam", "support")
    label = "assinatura inválida ou chave desconhecida (ou já aposentada)"
    listed = _page_text(client.get(url("audit_auditevent_changelist")))
    assert label in listed
    assert "motivo bad_signature_or_unknown_key" not in listed
    detail = _page_text(client.get(url("audit_auditevent_change", event.pk)))
    assert label in detail
    assert detail.count("bad_signature_or_unknown_key") <= 1  # only in the raw JSON behind the toggle
