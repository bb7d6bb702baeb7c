"""The audit export (SPEC §6 ``AUDIT_EXPORT``): each audit row, once its transaction commits, is one JSON
line in a file outside the database, with the table's fields and never a secret or a token."""

import json
import multiprocessing
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.export import FIELDS, _append, audit_event_as_dict
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from tests.conftest import issue_token, make_community

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_file(settings, tmp_path):
    path = tmp_path / "audit.jsonl"
    settings.BFLUENCE = {**settings.BFLUENCE, "AUDIT_EXPORT": str(path)}
    return path


def exported(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_audit_row_is_exported_after_commit_with_the_tables_fields(
    api, export_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        acme = make_community("acme")
        token = issue_token(api, acme)
        out = StringIO()
        call_command("rotate_secret", "acme", "--revoke-tokens", "--json", stdout=out)
    new_secret = json.loads(out.getvalue())["client_secret"]

    lines = exported(export_file)
    rows = [audit_event_as_dict(event) for event in AuditEvent.objects.order_by("id")]
    assert lines == json.loads(json.dumps(rows))  # the same rows, the same values, in commit order
    assert all(tuple(line) == FIELDS for line in lines)
    assert {line["event_type"] for line in lines} >= {"secret_rotated", "tokens_revoked_all", "token_issued"}
    text = export_file.read_text()
    assert acme.client_secret not in text and new_secret not in text and token not in text
    assert text.count("\n") == len(lines) == AuditEvent.objects.count()


def _record_then_fail() -> None:
    with transaction.atomic():
        audit_record(event_type="member_balance_set", actor=Actor.command("tests"))
        raise RuntimeError("rolled back")


def test_a_rolled_back_row_is_never_exported(export_file, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            _record_then_fail()
        assert not export_file.exists()
        audit_record(event_type="member_balance_set", actor=Actor.command("tests"), details={"why": "kept"})

    [line] = exported(export_file)
    assert line["details"] == {"why": "kept"} and line["actor"] == "manage.py tests"


def test_nothing_is_written_before_the_transaction_commits(export_file, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        audit_record(event_type="member_balance_set", actor=Actor.command("tests"))
    assert not export_file.exists() and len(callbacks) == 1
    callbacks[0]()
    assert len(exported(export_file)) == 1


def test_no_export_file_without_the_setting(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.BFLUENCE = {**settings.BFLUENCE, "AUDIT_EXPORT": ""}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        audit_record(event_type="member_balance_set", actor=Actor.command("tests"))
    assert callbacks == []


def test_an_unwritable_export_is_logged_and_never_undoes_the_change(
    settings, tmp_path, caplog, django_capture_on_commit_callbacks
):
    settings.BFLUENCE = {**settings.BFLUENCE, "AUDIT_EXPORT": str(tmp_path / "missing-dir" / "audit.jsonl")}
    with django_capture_on_commit_callbacks(execute=True):
        audit_record(event_type="member_balance_set", actor=Actor.command("tests"))
    assert AuditEvent.objects.count() == 1
    assert any(record.message == "audit export failed" for record in caplog.records)


def _append_many(path: str, marker: int) -> None:
    line = json.dumps({"writer": marker, "pad": "x" * 6000}) + "\n"
    for _ in range(200):
        _append(path, line.encode())


def test_several_processes_appending_never_interleave_a_line(tmp_path):
    path = str(tmp_path / "audit.jsonl")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(path, marker)) for marker in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0

    lines = open(path).read().splitlines()
    assert len(lines) == 800
    assert sorted(json.loads(line)["writer"] for line in lines) == sorted(list(range(4)) * 200)
