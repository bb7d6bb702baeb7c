"""A restore never resurrects a credential (SPEC §4 ``post_restore``, §6 ``AUDIT_EXPORT``).

The drill an operator runs, for real: back up the database (SQLite: a copy of its file; PostgreSQL:
``pg_dump``/``pg_restore`` of the test database), cut credentials off, restore, run ``post_restore`` with
the audit export; then every cut-off holds again, through real requests.
"""

import json
import os
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import ClientKey, ClientSecret
from communities.models import Community
from communities.services import community_update
from tests.conftest import TEST_ACTOR, get_bflus, issue_token, make_community
from tests.keyfactory import private_key, public_pem
from tokens.models import IssuedToken, RevocationRequest


class Backup:
    """One backup of the test database, made and restored as the README tells operators."""

    def __init__(self, directory) -> None:
        self.settings = connection.settings_dict
        self.file = str(
            directory / ("backup.dump" if connection.vendor == "postgresql" else "backup.sqlite3")
        )

    def _pg(self, program: str, *args: str) -> None:
        binary = shutil.which(program)
        if binary is None:
            pytest.skip(f"{program} is not installed")
        target = ["-h", self.settings["HOST"] or "127.0.0.1", "-p", str(self.settings["PORT"] or 5432)]
        target += ["-U", self.settings["USER"] or "postgres", "-d", self.settings["NAME"]]
        env = {**os.environ, "PGPASSWORD": self.settings["PASSWORD"] or ""}
        subprocess.run([binary, *target, *args], check=True, env=env, capture_output=True, timeout=120)

    def make(self) -> None:
        connections.close_all()
        if connection.vendor == "postgresql":
            self._pg("pg_dump", "--format=custom", f"--file={self.file}")
        else:
            shutil.copyfile(self.settings["NAME"], self.file)

    def restore(self) -> None:
        connections.close_all()
        if connection.vendor == "postgresql":
            self._pg("pg_restore", "--clean", "--if-exists", "--no-owner", "--exit-on-error", self.file)
        else:
            shutil.copyfile(self.file, self.settings["NAME"])


@pytest.fixture
def backup(transactional_db, tmp_path):
    if connection.vendor not in {"postgresql", "sqlite"}:
        pytest.skip("SQLite and PostgreSQL only")
    return Backup(tmp_path)


@pytest.fixture
def export_file(settings, tmp_path):
    path = tmp_path / "audit.jsonl"
    settings.BFLUENCE = {**settings.BFLUENCE, "AUDIT_EXPORT": str(path)}
    return path


def post_restore(export_file, since) -> dict:
    out = StringIO()
    call_command(
        "post_restore", "--events", str(export_file), "--since", since.isoformat(), "--json", stdout=out
    )
    return json.loads(out.getvalue())


def token_status(api, created, secret=None) -> int:
    body = {"client_id": created.community.client_id, "client_secret": secret or created.client_secret}
    return api.post("/auth/token", body, format="json").status_code


def test_a_restore_then_post_restore_keeps_a_rotation_with_revoked_tokens(api, backup, export_file):
    acme = make_community("acme", members={"123": 1500})
    since = timezone.now()
    old_tokens = [issue_token(api, acme), issue_token(api, acme)]
    backup.make()
    out = StringIO()
    call_command("rotate_secret", "acme", "--revoke-tokens", "--reason", "leaked", "--json", stdout=out)
    new_secret = json.loads(out.getvalue())["client_secret"]
    token_from_new_secret = issue_token(api, acme.__class__(acme.community, new_secret))
    assert all(get_bflus(api, token).status_code == 401 for token in old_tokens)

    backup.restore()
    # What the issue saw: the restore brought the leaked secret and its tokens back, the trail lost the rotation.
    assert not AuditEvent.objects.filter(event_type="secret_rotated").exists()
    assert all(get_bflus(api, token).status_code == 200 for token in old_tokens)
    assert ClientSecret.objects.get(community__client_id="acme").valid_until is None

    result = post_restore(export_file, since)

    assert result["communities_without_secret"] == ["acme"]
    assert result["reapplied"] >= 2 and result["audit_rows_imported"] >= 3
    assert token_status(api, acme) == 401  # the leaked secret
    assert token_status(api, acme, new_secret) == 401  # lost with the restore: staff hand a new one
    for token in [*old_tokens, token_from_new_secret]:
        response = get_bflus(api, token)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    request = RevocationRequest.objects.get(community__client_id="acme")
    assert request.status == RevocationRequest.Status.PENDING
    assert request.opened_by == "command:manage.py post_restore"
    assert AuditEvent.objects.filter(event_type="secret_rotated", community__client_id="acme").count() == 1
    assert AuditEvent.objects.filter(event_type="tokens_revoked_all").count() == 1
    assert IssuedToken.objects.filter(revoked_at__isnull=True).count() == 0

    # Twice changes nothing more.
    rows = AuditEvent.objects.count()
    again = post_restore(export_file, since)
    assert again == {"reapplied": 0, "audit_rows_imported": 0, "communities_without_secret": ["acme"]}
    assert AuditEvent.objects.count() == rows and RevocationRequest.objects.count() == 1


def test_post_restore_reapplies_reports_revocations_key_retirements_and_deactivations(
    api, backup, export_file, tmp_path
):
    acme = make_community("acme", members={"123": 1500})
    globex = make_community("globex", members={"123": 5})
    initech = make_community("initech", members={"123": 7})
    key_file = tmp_path / "key.pem"
    key_file.write_text(public_pem(private_key("ES256")))
    call_command("add_client_key", "initech", "--public-key", str(key_file), stdout=StringIO())
    since = timezone.now()
    acme_token, globex_token, initech_token = (issue_token(api, c) for c in (acme, globex, initech))
    initech_other = issue_token(api, initech)
    backup.make()
    report = api.post(
        "/auth/revocation-requests",
        {"client_id": "acme", "client_secret": acme.client_secret, "reason": "laptop stolen"},
        format="json",
    )
    assert report.status_code == 202
    call_command("deactivate_community", "globex", stdout=StringIO())
    kid = ClientKey.objects.get().kid
    call_command("remove_client_key", "initech", "--kid", kid, stdout=StringIO())
    revoked = api.post(
        "/auth/revoke",
        {"client_id": "initech", "client_secret": initech.client_secret, "token": initech_token},
        format="json",
    )
    assert revoked.status_code == 200

    backup.restore()
    assert get_bflus(api, acme_token).status_code == 200 and get_bflus(api, initech_token).status_code == 200
    result = post_restore(export_file, since)

    assert result["communities_without_secret"] == ["acme"]  # initech keeps its secret
    assert token_status(api, acme) == 401 and get_bflus(api, acme_token).status_code == 401
    assert token_status(api, globex) == 401 and get_bflus(api, globex_token).status_code == 401
    assert not Community.objects.get(client_id="globex").is_active
    assert get_bflus(api, initech_token).status_code == 401
    assert get_bflus(api, initech_other).status_code == 200  # only the one it revoked
    assert token_status(api, initech) == 200
    assert ClientKey.objects.get().retired_at is not None
    assert list(RevocationRequest.objects.values_list("community__client_id", "status")) == [
        ("acme", "pending")
    ]


def test_a_reactivation_after_the_deactivation_stands(api, backup, export_file):
    globex = make_community("globex", members={"123": 5})
    since = timezone.now()
    backup.make()
    call_command("deactivate_community", "globex", stdout=StringIO())
    call_command("reactivate_community", "globex", stdout=StringIO())
    backup.restore()

    post_restore(export_file, since)

    assert Community.objects.get(client_id="globex").is_active
    assert token_status(api, globex) == 200


def test_a_tightened_policy_and_a_withdrawn_permission_stand_again(api, backup, export_file):
    acme = make_community("acme", members={"123": 1500})
    globex = make_community("globex", permissions=("bflus:read", "bflus:write"), members={"123": 5})
    since = timezone.now()
    globex_token = issue_token(api, globex)
    backup.make()
    call_command("set_client_auth", "acme", "--allowed-ips", "192.0.2.0/24", stdout=StringIO())
    community_update(
        community=Community.objects.get(client_id="globex"),
        actor=TEST_ACTOR,
        name="globex community",
        permissions=["bflus:write"],
        token_lifetime=None,
    )
    assert token_status(api, acme) == 401 and get_bflus(api, globex_token).status_code == 403
    backup.restore()
    assert token_status(api, acme) == 200 and get_bflus(api, globex_token).status_code == 200

    result = post_restore(export_file, since)

    assert result["reapplied"] == 2 and result["communities_without_secret"] == []
    assert token_status(api, acme) == 401  # from 127.0.0.1, outside the allowlist again
    assert get_bflus(api, globex_token).status_code == 403  # bflus:read withdrawn again
    assert post_restore(export_file, since)["reapplied"] == 0


# --- bad input: a clear error, nothing changed ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "linha 2"),
        ("[1, 2]", "linha 2"),
        (json.dumps({"id": 1}), "campos"),
        ('{"id": 1, "occurred_at": "yesterday"}', "linha 2"),
    ],
)
def test_a_damaged_export_is_refused_whole_with_the_line_number(export_file, line, message, tmp_path):
    acme = make_community("acme")
    good = {
        "id": 1,
        "occurred_at": timezone.now().isoformat(),
        "event_type": "secret_rotated",
        "actor_type": "command",
        "actor": "manage.py rotate_secret",
        "community_id": acme.community.pk,
        "client_id": "acme",
        "jti": "",
        "source_ip": None,
        "details": {"secrets_ended": [{"id": ClientSecret.objects.get().pk, "valid_until": None}]},
    }
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(good) + "\n" + line + "\n")
    rows = AuditEvent.objects.count()

    with pytest.raises(CommandError, match=message):
        call_command("post_restore", "--events", str(events), "--since", "2000-01-01T00:00:00Z")
    assert ClientSecret.objects.get().valid_until is None and AuditEvent.objects.count() == rows


@pytest.mark.parametrize(
    "field, value",
    [("event_type", "made_up"), ("source_ip", "not-an-ip"), ("actor", "x" * 201), ("community_id", "1")],
)
@pytest.mark.django_db
def test_a_row_with_a_bad_field_is_refused(tmp_path, field, value):
    row = {
        "id": 1,
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "event_type": "token_revoked",
        "actor_type": "command",
        "actor": "x",
        "community_id": None,
        "client_id": "acme",
        "jti": "j",
        "source_ip": None,
        "details": {},
        field: value,
    }
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(row) + "\n")
    with pytest.raises(CommandError, match="linha 1"):
        call_command("post_restore", "--events", str(events), "--since", "2000-01-01")
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_and_a_bad_since_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="Não foi possível ler a exportação de auditoria"):
        call_command("post_restore", "--events", str(tmp_path / "nope.jsonl"), "--since", "2026-01-01")
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CommandError, match="Não foi possível ler a exportação de auditoria"):
        call_command("post_restore", "--events", str(tmp_path / "binary.jsonl"), "--since", "2026-01-01")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("post_restore", "--events", str(tmp_path / "empty.jsonl"), "--since", "last tuesday")


def test_the_command_exits_non_zero_without_a_traceback(tmp_path):
    import sys

    (tmp_path / "bad.jsonl").write_text("{oops\n")
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "post_restore",
            "--events",
            str(tmp_path / "bad.jsonl"),
            "--since",
            "2026-01-01",
        ],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env={
            **os.environ,
            "DEBUG": "true",
            "BFLUENCE_READ_DOTENV": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "linha 1" in result.stderr and "Traceback" not in result.stderr
