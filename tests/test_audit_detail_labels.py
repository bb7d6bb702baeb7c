"""Every key an audit row's details can hold has a staff-language label, and codes read as words."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import translation

from console.audit_details import LABELS, details_list

ROOT = Path(__file__).resolve().parent.parent
APPS = ("audit", "clients", "communities", "console", "leaks", "notifications", "tokens")
#: Keys of dicts that helpers build and the audit rows nest: secrets_ended(), policy_summary(),
#: a community change's {"from", "to"}, the contacts change's list.
NESTED = {"id", "valid_until", "methods", "dpop", "allowed_ips", "allowlist_applies_to_api", "from", "to"}
NESTED |= {"token_lifetime", "webhook_secret"}


def _keys_written_by_the_code() -> set[str]:
    keys: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "details" and isinstance(keyword.value, ast.Dict):
                        keys |= {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)}
    return keys


def test_the_walk_finds_the_keys_it_should():
    keys = _keys_written_by_the_code()
    assert {"source_network", "subject", "devices_removed", "attempts_cleared", "evidence_url"} <= keys
    assert len(keys) > 40


def test_every_key_written_into_audit_details_has_a_label():
    missing = sorted((_keys_written_by_the_code() | NESTED) - set(LABELS))
    assert missing == []


def test_every_label_is_translated_to_portuguese():
    with translation.override("en"):
        english = {key: str(label) for key, label in LABELS.items()}
    with translation.override("pt-br"):
        same = sorted(key for key, label in LABELS.items() if str(label) == english[key])
    assert set(same) <= {"dpop", "bflus"}


@pytest.mark.django_db
def test_codes_and_durations_read_as_portuguese_words():
    from django.contrib.auth.models import User

    User.objects.create_user("sup1", first_name="Sueli", last_name="Prado", is_staff=True)
    details = {
        "subject": "sup1",
        "source_network": "203.0.113.0/24",
        "action": "second_factor_reset",
        "why": "same_person",
        "reason": "invalid_credentials",
        "where": "prompt",
        "source": "secret_scanning",
        "expires_in": 86400,
        "secrets_ended": [{"id": 3, "valid_until": None}],
    }
    with translation.override("pt-br"):
        html = str(details_list(details))
    for english in (
        "source network",
        "subject",
        "second_factor_reset",
        "same_person",
        "invalid_credentials",
        "prompt",
        "secret_scanning",
        "86400",
        "valid until",
        "secrets ended",
    ):
        assert english not in html
    assert "1\xa0dia" in html
    assert "<dd>Sueli Prado</dd>" in html  # the person's name; the row keeps "sup1"


@pytest.mark.django_db
def test_a_rotation_row_labels_each_secrets_key_differently(acme):
    """ "ended_hints" names the secrets a rotation ended at once; "secrets_ended" every secret it changed,
    with until when each works now (the one kept for the grace window too): never both "ended"."""
    from audit.models import AuditEvent
    from console.audit_details import label
    from tests.conftest import TEST_ACTOR
    from tokens.services import community_rotate_secret

    community_rotate_secret(community=acme.community, actor=TEST_ACTOR, grace=timedelta(hours=1))
    with translation.override("pt-br"):
        keys = ("ended_hints", "secrets_ended", "secrets_stopped", "secrets_suspended")
        labels = [label(key) for key in keys]
        rotated = AuditEvent.objects.get(event_type="secret_rotated")
        row = [label(key) for key in rotated.details]
    assert len(set(labels)) == len(labels), labels
    assert len(set(row)) == len(row), row
    assert labels[1] == "segredos afetados (até quando cada um funciona)"
