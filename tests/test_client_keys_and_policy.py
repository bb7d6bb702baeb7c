"""SPEC §4 commands add_client_key, remove_client_key, set_client_auth; and the key rules behind them."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from joserfc.jwk import ECKey, RSAKey

from audit.models import AuditEvent
from clients.models import ClientAuthPolicy, ClientKey
from tests.conftest import make_community
from tests.keyfactory import private_key, public_jwk_json, public_pem

pytestmark = pytest.mark.django_db


def run_json(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    assert out.getvalue().count("\n") <= 1
    return json.loads(out.getvalue())


def key_file(tmp_path, text: str, name="key.pem"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def acme_community(db):
    return make_community("acme").community


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_add_client_key_from_pem_uses_the_rfc7638_thumbprint_as_kid(tmp_path, acme_community, alg):
    key = private_key(alg)
    body = run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(key)))
    assert set(body) == {"client_id", "kid", "thumbprint"}
    assert body["client_id"] == "acme"
    assert body["kid"] == body["thumbprint"] == key.thumbprint()
    stored = ClientKey.objects.get()
    assert stored.public_jwk == {k: v for k, v in key.as_dict(private=False).items() if k != "kid"}
    assert "d" not in stored.public_jwk
    event = AuditEvent.objects.get(event_type="client_key_added")
    assert event.details["kid"] == body["kid"] and event.actor == "manage.py add_client_key"


def test_add_client_key_from_jwk_keeps_its_kid(tmp_path, acme_community):
    key = private_key("ES256")
    body = run_json(
        "add_client_key",
        "acme",
        "--public-key",
        key_file(tmp_path, public_jwk_json(key, kid="partner-2026"), "key.json"),
    )
    assert body["kid"] == "partner-2026" and body["thumbprint"] == key.thumbprint()


@pytest.mark.parametrize(
    "bad",
    [
        lambda: private_key("ES256").as_pem(private=True).decode(),
        lambda: json.dumps(private_key("EdDSA").as_dict(private=True)),
        lambda: ECKey.generate_key("P-384").as_pem(private=False).decode(),
        lambda: RSAKey.generate_key(1024).as_pem(private=False).decode(),
        lambda: '{"kty": "oct", "k": "c2VjcmV0"}',
        lambda: "not a key",
        lambda: json.dumps({"keys": [private_key("ES256").as_dict(private=False)]}),
    ],
)
def test_add_client_key_refuses_private_weak_and_odd_keys_and_changes_nothing(tmp_path, acme_community, bad):
    text = bad()
    with pytest.raises(CommandError) as raised:
        call_command("add_client_key", "acme", "--public-key", key_file(tmp_path, text), stdout=StringIO())
    assert "PRIVATE" not in str(raised.value) and text[:40] not in str(raised.value)
    assert not ClientKey.objects.exists()
    assert not AuditEvent.objects.filter(event_type="client_key_added").exists()


def test_the_same_key_or_kid_twice_is_refused(tmp_path, acme_community):
    key = private_key("ES256")
    run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(key)))
    with pytest.raises(CommandError, match=r"(already registered|já está registrada)"):
        call_command("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(key)))
    other = ECKey.generate_key("P-256")
    run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_jwk_json(other, kid="k1")))
    with pytest.raises(CommandError, match="kid"):
        call_command(
            "add_client_key",
            "acme",
            "--public-key",
            key_file(tmp_path, public_jwk_json(ECKey.generate_key("P-256"), kid="k1")),
        )
    assert ClientKey.objects.count() == 2


def test_add_client_key_unknown_community_and_missing_file_fail_cleanly(tmp_path, acme_community):
    with pytest.raises(CommandError):
        call_command(
            "add_client_key", "nobody", "--public-key", key_file(tmp_path, public_pem(private_key()))
        )
    with pytest.raises(CommandError):
        call_command("add_client_key", "acme", "--public-key", str(tmp_path / "missing.pem"))
    assert not ClientKey.objects.exists()


@pytest.mark.parametrize("spelling", ["--kid {kid}", "--kid={kid}"])
def test_remove_client_key_takes_a_kid_that_starts_with_a_dash(tmp_path, acme_community, spelling):
    """One RFC 7638 thumbprint in 64 starts with '-': argparse must not take it for an option."""
    kid = "-4y_O7yDJECvOXlgp1cyPF"
    jwk = key_file(tmp_path, public_jwk_json(private_key(), kid=kid), name="key.jwk")
    assert run_json("add_client_key", "acme", "--public-key", jwk)["kid"] == kid
    body = run_json("remove_client_key", "acme", *spelling.format(kid=kid).split(" "))
    assert body == {"client_id": "acme", "removed": kid, "tokens_revoked": 0}
    assert ClientKey.objects.get(kid=kid).retired_at is not None


def test_remove_client_key_retires_at_once_and_keeps_the_row(tmp_path, acme_community):
    added = run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(private_key())))
    body = run_json("remove_client_key", "acme", "--kid", added["kid"])
    assert body == {"client_id": "acme", "removed": added["kid"], "tokens_revoked": 0}
    key = ClientKey.objects.get()
    assert key.retired_at is not None
    assert AuditEvent.objects.filter(event_type="client_key_retired", details__kid=added["kid"]).exists()
    with pytest.raises(CommandError):  # already retired: nothing to remove
        call_command("remove_client_key", "acme", "--kid", added["kid"], stdout=StringIO())
    # Retired, the same key may be registered again (e.g. retired by mistake).
    again = run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(private_key())))
    assert again["kid"] == added["kid"] and ClientKey.objects.count() == 2


def test_remove_client_key_of_another_community_is_refused(tmp_path, acme_community):
    make_community("globex")
    added = run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(private_key())))
    with pytest.raises(CommandError):
        call_command("remove_client_key", "globex", "--kid", added["kid"], stdout=StringIO())
    assert ClientKey.objects.get().retired_at is None


def test_set_client_auth_defaults_and_json_shape(acme_community):
    body = run_json("set_client_auth", "acme")
    assert body == {"client_id": "acme", "methods": ["client_secret"], "dpop": "off", "allowed_ips": []}


def test_set_client_auth_sets_each_part_and_keeps_the_others(tmp_path, acme_community):
    run_json("add_client_key", "acme", "--public-key", key_file(tmp_path, public_pem(private_key())))
    body = run_json(
        "set_client_auth",
        "acme",
        "--methods",
        "client_secret,private_key_jwt",
        "--dpop",
        "optional",
        "--allowed-ips",
        "203.0.113.7, 10.0.0.0/8,2001:DB8::/32",
    )
    assert body == {
        "client_id": "acme",
        "methods": ["client_secret", "private_key_jwt"],
        "dpop": "optional",
        "allowed_ips": ["203.0.113.7/32", "10.0.0.0/8", "2001:db8::/32"],
    }
    body = run_json("set_client_auth", "acme", "--methods", "private_key_jwt")
    assert (
        body["methods"] == ["private_key_jwt"]
        and body["dpop"] == "optional"
        and len(body["allowed_ips"]) == 3
    )
    body = run_json("set_client_auth", "acme", "--allowed-ips", "")
    assert body["allowed_ips"] == []
    events = AuditEvent.objects.filter(event_type="client_auth_policy_set").order_by("id")
    assert events.count() == 3
    assert events[0].details["before"]["methods"] == ["client_secret"]
    assert events[2].details["after"]["allowed_ips"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--methods", "password"],
        ["--methods", ""],
        ["--dpop", "sometimes"],
        ["--allowed-ips", "10.0.0.1/8"],
        ["--allowed-ips", "not-an-ip"],
        ["--allowed-ips", "10.0.0.0/33"],
    ],
)
def test_set_client_auth_refuses_bad_input_and_changes_nothing(acme_community, args):
    with pytest.raises((CommandError, SystemExit)):
        call_command("set_client_auth", "acme", *args, stdout=StringIO(), stderr=StringIO())
    assert not ClientAuthPolicy.objects.exists()
    assert not AuditEvent.objects.filter(event_type="client_auth_policy_set").exists()


def test_set_client_auth_text_output_mentions_the_api_switch(acme_community):
    out = StringIO()
    call_command("set_client_auth", "acme", "--allowed-ips", "192.0.2.0/24", "--allowlist-api", stdout=out)
    assert "192.0.2.0/24" in out.getvalue() and "chamadas à API: sim" in out.getvalue()
    assert ClientAuthPolicy.objects.get().allowlist_applies_to_api is True


def test_production_requirements_pin_the_key_libraries():
    """private_key_jwt and DPoP run in production: their libraries cannot be test-only dependencies."""
    from pathlib import Path

    pinned = {
        line.split("==")[0].lower()
        for line in (Path(__file__).resolve().parent.parent / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert {"cryptography", "joserfc", "pyjwt"} <= pinned


def test_keys_only_without_a_key_is_set_with_a_warning(acme_community):
    out, err = StringIO(), StringIO()
    call_command("set_client_auth", "acme", "--methods", "private_key_jwt", "--json", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["methods"] == ["private_key_jwt"]
    assert "add_client_key" in err.getvalue()
    assert ClientAuthPolicy.objects.get().allow_client_secret is False
