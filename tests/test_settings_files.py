"""Secrets from files (NAME_FILE, never together with NAME), and every setting documented: in
deploy/env.example with its default, and in README's "Configuration" table."""

import re
import subprocess
import sys

import pytest

from tests.test_settings import GOOD, ROOT, start

PRINT = (
    "from django.conf import settings; "
    "print(settings.SIMPLE_JWT['SIGNING_KEY']); "
    "print(settings.BFLUENCE['JWT_PREVIOUS_SIGNING_KEYS']); print(settings.DATABASES['default']['NAME'])"
)


def shell(**overrides) -> subprocess.CompletedProcess:
    import os

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    env.update({key: value for key, value in {**GOOD, **overrides}.items() if value is not None})
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", PRINT],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_secrets_are_read_from_files(tmp_path):
    key, old = "k" * 32 + "-from-a-file", "o" * 40
    (tmp_path / "jwt").write_text(key + "\n")
    (tmp_path / "previous").write_text(f"{old}\n{'p' * 33}\n")
    (tmp_path / "secret").write_text(GOOD["SECRET_KEY"] + "\n")
    (tmp_path / "db").write_text(f"sqlite:///{tmp_path}/from-file.sqlite3\n")
    result = shell(
        JWT_SIGNING_KEY=None,
        SECRET_KEY=None,
        JWT_SIGNING_KEY_FILE=str(tmp_path / "jwt"),
        JWT_PREVIOUS_SIGNING_KEYS_FILE=str(tmp_path / "previous"),
        SECRET_KEY_FILE=str(tmp_path / "secret"),
        DATABASE_URL_FILE=str(tmp_path / "db"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [key, str([old, "p" * 33]), f"{tmp_path}/from-file.sqlite3"]


@pytest.mark.parametrize(
    "overrides, says",
    [
        (
            {"JWT_SIGNING_KEY_FILE": "/nonexistent/bfluence-key"},
            "set JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE",
        ),
        ({"JWT_SIGNING_KEY": None, "JWT_SIGNING_KEY_FILE": "/nonexistent/bfluence-key"}, "cannot read"),
    ],
)
def test_a_secret_twice_or_an_unreadable_file_stops_start_up(overrides, says):
    result = start(**overrides)
    assert result.returncode != 0
    assert "Bfluence cannot start" in result.stderr and says in result.stderr
    assert "/nonexistent" in result.stderr or "not both" in result.stderr


def test_a_short_key_in_a_file_is_refused_like_one_in_the_environment(tmp_path):
    (tmp_path / "jwt").write_text("short\n")
    result = start(JWT_SIGNING_KEY=None, JWT_SIGNING_KEY_FILE=str(tmp_path / "jwt"))
    assert result.returncode != 0 and "at least 32 bytes" in result.stderr
    assert "short" not in result.stderr.replace("at least", "")  # the value itself is never echoed


def _settings_read() -> set[str]:
    source = (ROOT / "bfluence" / "settings.py").read_text()
    names = set(re.findall(r'(?:env\.[a-z]+|_secret|_rate)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    secrets = re.search(r"SECRET_SETTINGS = \(([^)]*)\)", source).group(1)
    names |= {f"{name}_FILE" for name in re.findall(r'"([A-Z_]+)"', secrets)}
    assert {"SECRET_KEY", "JWT_SIGNING_KEY_FILE", "SECURE_HSTS_PRELOAD", "LOG_LEVEL"} <= names
    return names


def _gunicorn_read() -> set[str]:
    return set(re.findall(r'environ\.get\("([A-Z][A-Z0-9_]+)"', (ROOT / "gunicorn.conf.py").read_text()))


def test_every_setting_is_in_env_example_with_its_default():
    example = (ROOT / "deploy" / "env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    missing = (_settings_read() | _gunicorn_read()) - listed
    assert not missing, f"not in deploy/env.example: {sorted(missing)}"
    assert "# SECURE_HSTS_SECONDS=31536000" in example and "# JWT_LEEWAY=10" in example


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = _settings_read() - documented
    assert not missing, f"not in README's Configuration table: {sorted(missing)}"
