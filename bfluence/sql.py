"""Helpers for the few hand-written statements on the hot paths (``*/selectors.py``): column lists taken
from the models, and values given back as the ORM would give them on either database."""

import json
from datetime import UTC
from typing import Any

from django.db import connection
from django.db.models import Model


def columns(model: type[Model], alias: str, *fields: str, prefix: str = "") -> str:
    """``alias."column", …`` for the model's ``fields``; each named ``<prefix><field>`` if ``prefix``."""
    concrete = {field.name: str(field.column) for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    return ", ".join(
        f"{alias}.{quote(concrete[field])}" + (f" AS {quote(prefix + field)}" if prefix else "")
        for field in fields
    )


def aware(value: Any) -> Any:
    """A timestamp as the ORM gives it: SQLite hands back naive UTC, PostgreSQL an aware one."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def json_value(value: Any) -> Any:
    """A JSON column as the ORM gives it: both databases hand back its text to Django's connection."""
    return json.loads(value) if isinstance(value, str) else value
