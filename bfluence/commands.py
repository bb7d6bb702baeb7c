"""The shape every management command of ours shares (SPEC §4).

Human text by default, exactly one JSON object with ``--json``; invalid input becomes a ``CommandError``
(stderr, non-zero exit) raised before anything is written, because each service validates first and
writes in one transaction.

One language per run, the operator's (README, "Operating it"): ``--lang``, else the environment's
locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``) when it names a language we speak, else ``LANGUAGE_CODE``.
Messages, ``--help`` and argparse's own words ("usage:", "the following arguments are required") alike.
"""

import argparse
import gettext
import json
import os
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bfluence.durations import parse_duration

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX order: the first one set decides


def duration_argument(text: str) -> timedelta:
    """argparse ``type=`` for ``DUR`` values (``90s``, ``15m``, ``24h``, ``7d``)."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            _("invalid duration %(text)r: use a number and a unit, like 90s, 15m, 24h or 7d") % {"text": text}
        ) from error


def _supported(code: str) -> str | None:
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def _lang_option(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def operator_language(argv: list[str], environ=os.environ) -> str:
    """The language of this run: ``--lang``, else the environment's locale, else ``LANGUAGE_CODE``.

    A locale we do not speak, or ``C``/``POSIX`` (no language at all), leaves the project's default.
    """
    chosen = _lang_option(argv)
    if chosen:
        return _supported(chosen) or settings.LANGUAGE_CODE
    for name in LOCALE_VARIABLES:
        value = environ.get(name, "")
        if value:
            locale_name = value.split(".")[0].split("@")[0]
            if locale_name in {"C", "POSIX"}:
                break
            return _supported(translation.to_language(locale_name)) or settings.LANGUAGE_CODE
    return settings.LANGUAGE_CODE


def _argparse_speaks(language: str) -> None:
    """argparse translates its own words with gettext's default domain (Python's argparse HOWTO, "How to
    translate the argparse output"): point that domain at our catalogue, which holds them
    (bfluence/cli_messages.py), in this run's language. Only ever in a ``manage.py`` process."""
    gettext.bindtextdomain("django", str(settings.LOCALE_PATHS[0]))
    gettext.textdomain("django")
    os.environ["LANGUAGE"] = translation.to_locale(language)


class ServiceCommand(BaseCommand):
    """Subclasses implement ``add_command_arguments`` and ``run``, returning ``(payload, text)``."""

    def run_from_argv(self, argv) -> None:
        language = operator_language(argv[2:])
        translation.activate(language)
        _argparse_speaks(language)
        super().run_from_argv(argv)

    def create_parser(self, prog_name, subcommand, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # The description, Django's own options and ours, in this run's language: descriptions are marked
        # with gettext_noop, our options are lazy, Django's are plain text whose translations
        # bfluence/cli_messages.py carries.
        parser.description = _(str(parser.description)) if parser.description else None
        for action in parser._actions:
            if action.help and action.help is not argparse.SUPPRESS:
                action.help = _(str(action.help))
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", action="store_true", help=gettext_lazy("Print one JSON object instead of text.")
        )
        parser.add_argument(
            "--lang",
            choices=[code for code, _name in settings.LANGUAGES],
            help=gettext_lazy(
                "Language of messages and help (default: the locale in LC_ALL/LC_MESSAGES/LANG if it is "
                "one of these, else LANGUAGE_CODE)."
            ),
        )
        self.add_command_arguments(parser)

    def add_command_arguments(self, parser) -> None:
        """Arguments of the command itself."""

    def run(self, **options) -> tuple[dict, str]:
        raise NotImplementedError

    def handle(self, *args, **options) -> None:
        with translation.override(options.get("lang") or translation.get_language()):
            try:
                payload, text = self.run(**options)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from error
        if options["json"]:
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(text)
