"""The shape every management command of ours shares (SPEC §4).

Human text by default, exactly one JSON object with ``--json``; invalid input becomes a ``CommandError``
(stderr, non-zero exit) raised before anything is written, because each service validates first and
writes in one transaction.
"""

import argparse
import json
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from bfluence.durations import parse_duration


def duration_argument(text: str) -> timedelta:
    """argparse ``type=`` for ``DUR`` values (``90s``, ``15m``, ``24h``, ``7d``)."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


class ServiceCommand(BaseCommand):
    """Subclasses implement ``add_command_arguments`` and ``run``, returning ``(payload, text)``."""

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")
        self.add_command_arguments(parser)

    def add_command_arguments(self, parser) -> None:
        """Arguments of the command itself."""

    def run(self, **options) -> tuple[dict, str]:
        raise NotImplementedError

    def handle(self, *args, **options) -> None:
        try:
            payload, text = self.run(**options)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if options["json"]:
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(text)
