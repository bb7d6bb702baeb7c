"""Management commands speak one language per run, the operator's: ``--lang``, else the environment's
locale, else ``LANGUAGE_CODE`` (pt-BR); messages, ``--help`` and argparse's own words alike."""

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from bfluence.commands import operator_language
from tests.conftest import make_community
from tests.stack import ROOT, server_env
from tests.test_command_messages import options_of, our_commands


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_env(
            **{"BFLUENCE_READ_DOTENV": "false", "LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", **env}
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rotate_secret_help_in_portuguese_by_default():
    shown = manage("rotate_secret", "--help")
    assert shown.returncode == 0, shown.stderr
    help_text = " ".join(shown.stdout.split())
    for words in (
        "uso: manage.py rotate_secret",
        "argumentos posicionais:",
        "opções:",
        "mostra esta ajuda e sai",
    ):
        assert words in help_text
    assert "O client_id da comunidade." in help_text
    # Why the default differs from the console's:
    assert "Padrão 0: ele para agora (o console propõe 24h, para trocas planejadas)" in help_text
    assert "Mostra a versão do programa e sai." in help_text  # Django's own options too
    assert "usage:" not in help_text and "show this help" not in help_text


@pytest.mark.parametrize("how", [("--lang", "en"), ("--lang=en",), ()])
def test_rotate_secret_help_in_english_by_option_or_locale(how):
    shown = manage("rotate_secret", *how, "--help", **({} if how else {"LANG": "en_US.UTF-8"}))
    assert shown.returncode == 0, shown.stderr
    help_text = " ".join(shown.stdout.split())
    for words in (
        "usage: manage.py rotate_secret",
        "positional arguments:",
        "show this help message and exit",
    ):
        assert words in help_text
    assert "The community's client_id." in help_text
    assert "the console's rotate form proposes 24h instead" in help_text
    assert "uso:" not in help_text


def test_an_argparse_error_in_portuguese():
    refused = manage("rotate_secret")
    assert refused.returncode == 2
    assert (
        "manage.py rotate_secret: erro: os seguintes argumentos são obrigatórios: client_id" in refused.stderr
    )
    assert refused.stderr.startswith("uso: ")
    bad = manage("rotate_secret", "acme", "--grace", "soon")
    assert "erro: argumento --grace: duração inválida 'soon'" in bad.stderr


def test_an_argparse_error_in_english_with_lang():
    refused = manage("rotate_secret", "--lang", "en")
    assert refused.returncode == 2
    assert "error: the following arguments are required: client_id" in refused.stderr


@pytest.mark.parametrize(
    "argv, environ, language",
    [
        ([], {}, "pt-br"),
        ([], {"LANG": "C.UTF-8"}, "pt-br"),
        ([], {"LANG": "en_US.UTF-8"}, "en"),
        ([], {"LANG": "pt_BR.UTF-8"}, "pt-br"),
        ([], {"LC_ALL": "pt_BR.UTF-8", "LANG": "en_GB.UTF-8"}, "pt-br"),
        ([], {"LC_ALL": "C", "LANG": "en_GB.UTF-8"}, "pt-br"),  # C: no language, the project's default
        ([], {"LANG": "de_DE.UTF-8"}, "pt-br"),  # a language we do not speak
        (["acme", "--lang", "en"], {"LANG": "pt_BR.UTF-8"}, "en"),
        (["--lang=pt-br"], {"LANG": "en_US.UTF-8"}, "pt-br"),
    ],
)
def test_the_language_of_a_run(argv, environ, language):
    assert operator_language(argv, environ) == language


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lang, said", [("en", "0 tokens of acme revoked."), ("pt-br", "0 tokens de acme revogados.")]
)
def test_messages_follow_lang(lang, said):
    make_community("acme")
    out = StringIO()
    call_command("revoke_tokens", "acme", "--all", "--lang", lang, stdout=out)
    assert said in out.getvalue()


def test_every_option_of_every_command_has_a_portuguese_help_text():
    untranslated = []
    for name, command in our_commands().items():
        with translation.override("en"):
            english = {action.dest: str(action.help) for action in options_of(command, name)}
            english_description = translation.gettext(command.help)
        with translation.override("pt-br"):
            portuguese = {action.dest: str(action.help) for action in options_of(command, name)}
            if translation.gettext(command.help) == english_description:
                untranslated.append(f"{name}: description")
        untranslated += [f"{name} {dest}" for dest, text in portuguese.items() if text == english[dest]]
    assert untranslated == []
