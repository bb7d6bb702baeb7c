"""Management commands — SPEC §4: text by default, one JSON object with --json, clean errors that change nothing."""

import io
import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import ClientSecret
from communities.models import Community, Member
from tests.conftest import get_bflus, issue_token, make_community, request_token
from tests.test_settings import ROOT
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args) -> dict:
    output = run(*args, "--json")
    assert output.count("\n") <= 1
    return json.loads(output)


def as_created(client_id, secret):
    from clients.services import NewCommunity

    return NewCommunity(community=Community.objects.get(client_id=client_id), client_secret=secret)


# --- create_community -----------------------------------------------------------------------------


def test_create_community_json_prints_the_secret_once(api):
    body = run_json(
        "create_community",
        "--client-id",
        "newco",
        "--name",
        "New Co",
        "--permissions",
        "bflus:read,bflus:write",
    )
    assert set(body) == {"client_id", "client_secret", "permissions"}
    assert body["client_id"] == "newco"
    assert body["permissions"] == ["bflus:read", "bflus:write"]
    assert body["client_secret"].startswith("bfl_sk_")
    assert request_token(api, as_created("newco", body["client_secret"])).status_code == 200
    stored = ClientSecret.objects.get(community__client_id="newco")
    assert body["client_secret"] not in (stored.digest, stored.salt, stored.hint)
    assert AuditEvent.objects.filter(
        event_type="community_created", actor="manage.py create_community"
    ).exists()


def test_create_community_text_output_and_no_permissions_by_default():
    output = run("create_community", "--client-id", "plain", "--name", "Plain", "--token-lifetime", "1h")
    assert "client_secret: bfl_sk_" in output
    assert "nunca mais" in output  # LANGUAGE_CODE: pt-BR
    community = Community.objects.get(client_id="plain")
    assert community.permissions == []
    assert community.token_lifetime == timedelta(hours=1)


@pytest.mark.parametrize(
    "args",
    [
        ["--client-id", "acme", "--name", "Dup"],  # already exists
        ["--client-id", "Bad Id!", "--name", "X"],
        ["--client-id", "okay", "--name", "X", "--permissions", "bflus:read,root"],
        ["--client-id", "okay", "--name", "X", "--token-lifetime", "10x"],
        ["--client-id", "okay", "--name", "X", "--token-lifetime", "48h"],  # longer than the default
        ["--client-id", "okay", "--name", ""],
    ],
)
def test_create_community_errors_change_nothing(acme, args):
    before = (Community.objects.count(), ClientSecret.objects.count(), AuditEvent.objects.count())
    with pytest.raises(CommandError):
        run("create_community", *args)
    assert (Community.objects.count(), ClientSecret.objects.count(), AuditEvent.objects.count()) == before


# --- rotate_secret --------------------------------------------------------------------------------


def test_rotate_secret_with_no_grace_stops_the_old_secret_at_once(api, acme):
    body = run_json("rotate_secret", "acme")
    assert set(body) == {"client_id", "client_secret", "previous_secret_valid_until", "tokens_revoked"}
    assert body["tokens_revoked"] == 0
    assert request_token(api, acme).status_code == 401
    assert request_token(api, as_created("acme", body["client_secret"])).status_code == 200


def test_rotate_secret_grace_window_then_the_old_secret_stops(api, acme):
    body = run_json("rotate_secret", "acme", "--grace", "24h", "--reason", "scheduled")
    valid_until = timezone.datetime.fromisoformat(body["previous_secret_valid_until"])
    assert timedelta(hours=23, minutes=59) < valid_until - timezone.now() <= timedelta(hours=24)
    assert request_token(api, acme).status_code == 200
    with time_machine.travel(valid_until + timedelta(seconds=1)):
        assert request_token(api, acme).status_code == 401
        assert request_token(api, as_created("acme", body["client_secret"])).status_code == 200


def test_a_second_rotation_keeps_at_most_two_valid_secrets(api, acme):
    first = run_json("rotate_secret", "acme", "--grace", "7d")
    second = run_json("rotate_secret", "acme", "--grace", "7d")
    assert request_token(api, acme).status_code == 401  # the original: ended by the second rotation
    assert request_token(api, as_created("acme", first["client_secret"])).status_code == 200
    assert request_token(api, as_created("acme", second["client_secret"])).status_code == 200


def test_rotate_secret_revoke_tokens_rejects_the_next_request(api, acme):
    token = issue_token(api, acme)
    body = run_json("rotate_secret", "acme", "--revoke-tokens")
    assert body["tokens_revoked"] == 1
    assert get_bflus(api, token).status_code == 401


@pytest.mark.parametrize("args", [["nobody"], ["acme", "--grace", "8d"], ["acme", "--grace", "soon"]])
def test_rotate_secret_errors_change_nothing(api, acme, args):
    before = ClientSecret.objects.count()
    with pytest.raises(CommandError):
        run("rotate_secret", *args)
    assert ClientSecret.objects.count() == before
    assert request_token(api, acme).status_code == 200


def test_rotate_secret_text_output():
    make_community("texty")
    output = run("rotate_secret", "texty")
    assert "client_secret: bfl_sk_" in output and "tokens revogados: 0" in output


# --- revoke_tokens --------------------------------------------------------------------------------


def test_revoke_tokens_all(api, acme, globex):
    tokens = [issue_token(api, acme), issue_token(api, acme)]
    other = issue_token(api, globex)
    assert run_json("revoke_tokens", "acme", "--all", "--reason", "incident") == {
        "client_id": "acme",
        "revoked": 2,
    }
    assert all(get_bflus(api, token).status_code == 401 for token in tokens)
    assert get_bflus(api, other).status_code == 200


def test_revoke_tokens_by_jti_only_touches_that_communitys_tokens(api, acme, globex):
    import jwt

    mine, kept, theirs = issue_token(api, acme), issue_token(api, acme), issue_token(api, globex)
    jti = [jwt.decode(t, options={"verify_signature": False})["jti"] for t in (mine, theirs)]
    with pytest.raises(CommandError):  # another community's jti: refused, nothing revoked
        run_json("revoke_tokens", "acme", "--jti", *jti)
    assert get_bflus(api, mine).status_code == 200
    assert run_json("revoke_tokens", "acme", "--jti", jti[0]) == {"client_id": "acme", "revoked": 1}
    assert get_bflus(api, mine).status_code == 401
    assert get_bflus(api, kept).status_code == 200
    assert get_bflus(api, theirs).status_code == 200


@pytest.mark.parametrize("args", [["acme"], ["acme", "--all", "--jti", "x"], ["nobody", "--all"]])
def test_revoke_tokens_errors(api, acme, args):
    token = issue_token(api, acme)
    with pytest.raises(CommandError):
        run("revoke_tokens", *args)
    assert get_bflus(api, token).status_code == 200


def test_revoke_tokens_text_output(acme):
    assert "0 tokens de acme revogados" in run("revoke_tokens", "acme", "--all")
    assert "0 tokens of acme revoked" in run("revoke_tokens", "acme", "--all", "--lang", "en")


# --- deactivate / reactivate ----------------------------------------------------------------------


def test_deactivate_then_reactivate(api, acme):
    token = issue_token(api, acme)
    assert run_json("deactivate_community", "acme") == {"client_id": "acme", "is_active": False}
    assert get_bflus(api, token).status_code == 401
    assert request_token(api, acme).status_code == 401
    assert run_json("reactivate_community", "acme") == {"client_id": "acme", "is_active": True}
    assert get_bflus(api, token).status_code == 401  # revoked for good
    assert get_bflus(api, issue_token(api, acme)).status_code == 200
    events = AuditEvent.objects.filter(community=acme.community).values_list("event_type", flat=True)
    assert {"community_deactivated", "community_reactivated"} <= set(events)


@pytest.mark.parametrize("command", ["deactivate_community", "reactivate_community"])
def test_activation_commands_refuse_unknown_communities(db, command):
    with pytest.raises(CommandError):
        run(command, "nobody")


# --- set_bflus ------------------------------------------------------------------------------------


def test_set_bflus_creates_and_updates_members(api, acme):
    assert run_json("set_bflus", "acme", "900", "42") == {"community": "acme", "client": "900", "bflus": 42}
    assert run_json("set_bflus", "acme", "123", "0")["bflus"] == 0
    token = issue_token(api, acme)
    assert get_bflus(api, token, client="900").json()["bflus"] == 42
    assert get_bflus(api, token, client="123").json()["bflus"] == 0
    assert AuditEvent.objects.filter(event_type="member_balance_set", details__member="900").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["acme", "123", "-5"],
        ["acme", "123", "1.5"],
        ["acme", "123", "lots"],
        ["nobody", "123", "5"],
        ["acme", "bad/ref", "5"],
    ],
)
def test_set_bflus_errors_change_nothing(acme, args):
    with pytest.raises(CommandError):
        run("set_bflus", *args)
    assert Member.objects.get(community=acme.community, reference="123").bflus == 1500
    assert not Member.objects.filter(reference="bad/ref").exists()


# --- purge_tokens ---------------------------------------------------------------------------------


def test_purge_tokens_deletes_only_long_expired_records(api, acme):
    old, recent = issue_token(api, acme), None
    with time_machine.travel(timezone.now() + timedelta(days=20)):
        recent = issue_token(api, acme)
    with time_machine.travel(timezone.now() + timedelta(days=32)):
        assert run_json("purge_tokens") == {"deleted": 1}
        assert run_json("purge_tokens", "--older-than", "1d") == {"deleted": 1}
    assert not IssuedToken.objects.exists()
    assert AuditEvent.objects.filter(event_type="token_issued").count() == 2  # history stays
    assert old != recent


def test_purge_tokens_bad_duration_is_an_error(db):
    with pytest.raises(CommandError):
        run("purge_tokens", "--older-than", "forever")


# --- seed_demo ------------------------------------------------------------------------------------


def test_seed_demo_prints_working_credentials_and_a_curl_example(api):
    output = run("seed_demo")
    assert "curl" in output and "/auth/token" in output and "get-bflus" in output
    body = run_json("seed_demo")
    assert set(body) == {"client_id", "client_secret"}
    demo = as_created(body["client_id"], body["client_secret"])
    response = get_bflus(api, issue_token(api, demo))
    assert response.json()["bflus"] == 1500
    assert Community.objects.filter(client_id=body["client_id"]).count() == 1


def test_client_ids_keep_their_case_and_match_exactly(api):
    body = run_json(
        "create_community",
        "--client-id",
        "Acme.Corp_1",
        "--name",
        "Acme Corp",
        "--permissions",
        "bflus:read",
        "--token-lifetime",
        "2s",
    )
    assert request_token(api, as_created("Acme.Corp_1", body["client_secret"])).json()["expires_in"] == 2
    wrong_case = api.post(
        "/auth/token", {"client_id": "acme.corp_1", "client_secret": body["client_secret"]}, format="json"
    )
    assert wrong_case.status_code == 401


def test_member_references_may_be_e_mail_like(api, acme):
    assert run_json("set_bflus", "acme", "ana+vip@example.com", "7")["bflus"] == 7
    token = issue_token(api, acme)
    assert get_bflus(api, token, client="ana+vip@example.com").json()["bflus"] == 7


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["²", "١٢٣", "１２３", "12 ", "+5", "-1", "1e3", "0x10", ""])
def test_set_bflus_refuses_anything_but_ascii_digits_cleanly(acme, amount):
    with pytest.raises(CommandError, match="AMOUNT"):
        call_command("set_bflus", "acme", "123", amount, stdout=io.StringIO())
    assert Member.objects.get(community=acme.community, reference="123").bflus == 1500


def test_set_bflus_with_a_superscript_digit_exits_non_zero_without_a_traceback():
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "set_bflus", "acme", "123", "²"],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "bfluence.settings_test",
            "PYTHONPATH": str(ROOT),
            "BFLUENCE_READ_DOTENV": "false",
        },
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "AMOUNT" in result.stderr
