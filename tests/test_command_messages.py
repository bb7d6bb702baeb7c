"""Commands say what they did (and refuse what an operator would not mean), and every option is explained
in --help and in the README."""

import argparse
import json
import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.utils import timezone, translation

from bfluence.commands import ServiceCommand
from tests.conftest import issue_token, make_community, request_token
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parent.parent / "README.md"


def run(*args, stderr=None) -> str:
    out = StringIO()
    with translation.override("pt-br"):  # what `manage.py` speaks: LANGUAGE_CODE
        call_command(*args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def our_commands() -> dict[str, ServiceCommand]:
    commands = {}
    for name, app in get_commands().items():
        if app in {"audit", "communities", "clients", "tokens", "console"}:
            command = load_command_class(app, name)
            if isinstance(command, ServiceCommand):
                commands[name] = command
    return commands


def options_of(command: ServiceCommand, name: str) -> list[argparse.Action]:
    parser = command.create_parser("manage.py", name)
    own = {
        "help",
        "json",
        "lang",  # shared by every command: the README says it once
        "version",
        "verbosity",
        "settings",
        "pythonpath",
        "traceback",
        "no_color",
        "force_color",
        "skip_checks",
    }
    return [action for action in parser._actions if action.dest not in own]


# --- every option explained -------------------------------------------------------------------------


def test_there_are_commands_to_check():
    assert {"create_community", "rotate_secret", "revoke_tokens", "set_bflus", "seed_demo"} <= set(
        our_commands()
    )


def test_every_option_of_every_command_has_help_text():
    missing = [
        f"{name} {action.dest}"
        for name, command in our_commands().items()
        for action in options_of(command, name)
        if not (action.help or "").strip()
    ]
    assert missing == []


def test_every_command_and_option_is_in_the_readme():
    readme = README.read_text()
    missing = []
    for name, command in our_commands().items():
        if f"`{name}" not in readme:
            missing.append(name)
        for action in options_of(command, name):
            for flag in action.option_strings:
                if flag.startswith("--") and not re.search(rf"`{name}[^`]*{re.escape(flag)}\b", readme):
                    missing.append(f"{name} {flag}")
    assert missing == []


# --- rotate_secret inside a grace window ---------------------------------------------------------------


def test_rotate_secret_inside_a_grace_window_says_the_older_secret_stops_now_and_it_does(api, acme):
    run("rotate_secret", "acme", "--grace", "24h")
    assert request_token(api, acme).status_code == 200  # the original secret, inside its grace window
    errors = StringIO()
    body = json.loads(run("rotate_secret", "acme", "--grace", "1h", "--json", stderr=errors))
    assert set(body) == {"client_id", "client_secret", "previous_secret_valid_until", "tokens_revoked"}
    assert "parou de funcionar agora" in errors.getvalue()
    assert request_token(api, acme).status_code == 401  # stopped, as announced


def test_rotate_secret_says_nothing_extra_when_no_grace_window_is_open(acme):
    errors = StringIO()
    run("rotate_secret", "acme", "--grace", "1h", stderr=errors)  # only the original secret: no window yet
    with time_machine.travel(timezone.now() + timedelta(hours=2)):  # the window has closed
        run("rotate_secret", "acme", stderr=errors)
    assert errors.getvalue() == ""


# --- revoke_tokens --jti -----------------------------------------------------------------------------------


def test_revoke_tokens_with_an_unknown_or_foreign_jti_fails_and_revokes_nothing(api, acme, globex):
    own = [issue_token(api, acme) for _ in range(2)]
    foreign = issue_token(api, globex)
    own_jtis = list(IssuedToken.objects.filter(community=acme.community).values_list("jti", flat=True))
    foreign_jti = IssuedToken.objects.get(community=globex.community).jti
    assert own and foreign
    for strangers in (["no-such-jti"], [foreign_jti]):
        with pytest.raises(CommandError) as refused, translation.override("pt-br"):
            call_command("revoke_tokens", "acme", "--jti", *own_jtis, *strangers, stdout=StringIO())
        assert strangers[0] in str(refused.value) and "nada foi revogado" in str(refused.value)
    assert not IssuedToken.objects.filter(revoked_at__isnull=False).exists()
    assert json.loads(run("revoke_tokens", "acme", "--jti", *own_jtis, "--json"))["revoked"] == 2


# --- create_community without permissions, set_bflus errors ------------------------------------------


def test_create_community_without_permissions_warns_that_its_tokens_can_do_nothing():
    errors = StringIO()
    run("create_community", "--client-id", "bare", "--name", "Bare", stderr=errors)
    assert "bare" in errors.getvalue() and "não poderão fazer nada" in errors.getvalue()
    quiet = StringIO()
    run(
        "create_community",
        "--client-id",
        "full",
        "--name",
        "Full",
        "--permissions",
        "bflus:read",
        stderr=quiet,
    )
    assert quiet.getvalue() == ""


def test_set_bflus_refuses_a_bad_amount_in_portuguese_like_the_other_commands():
    make_community("acme")
    for amount in ("-5", "x", "1.5"):
        with pytest.raises(CommandError) as refused, translation.override("pt-br"):
            call_command("set_bflus", "acme", "123", amount, stdout=StringIO())
        assert "deve ser um número inteiro" in str(refused.value)
