"""Production start-up refuses unsafe settings with a message that says what to set (SPEC §6)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "SECRET_KEY": "settings-test-secret-key-with-some-variety-0123456789",
    "JWT_SIGNING_KEY": "j" * 40,
    "DEBUG": "false",
}


def start(**overrides) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env.update({key: value for key, value in {**GOOD, **overrides}.items() if value is not None})
    # --skip-checks keeps this about settings; ".env" of a developer must not interfere, hence cwd=/tmp.
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "ERROR"],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_production_settings_start():
    result = start()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"JWT_SIGNING_KEY": None}, "set JWT_SIGNING_KEY"),
        ({"JWT_SIGNING_KEY": "short"}, "at least 32 bytes"),
        ({"JWT_SIGNING_KEY": GOOD["SECRET_KEY"]}, "must differ from SECRET_KEY"),
        ({"SECRET_KEY": None}, "set SECRET_KEY"),
        ({"JWT_LEEWAY": "31"}, "JWT_LEEWAY"),
        ({"ACCESS_TOKEN_LIFETIME": "forever"}, "ACCESS_TOKEN_LIFETIME"),
        ({"JWT_PREVIOUS_SIGNING_KEYS": "tooshort"}, "JWT_PREVIOUS_SIGNING_KEYS"),
    ],
)
def test_unsafe_or_missing_production_settings_stop_start_up(overrides, says):
    result = start(**overrides)
    assert result.returncode != 0
    assert "Bfluence cannot start" in result.stderr
    assert says in result.stderr


def test_the_benchmark_settings_are_refused_by_the_deployment_check():
    result = start(DJANGO_SETTINGS_MODULE="bench.settings")
    assert result.returncode != 0
    assert "bfluence.E001" in result.stderr + result.stdout


def test_the_unauthenticated_bench_twin_is_not_routed_in_production():
    from django.urls import Resolver404, resolve

    resolve("/auth/token")  # the production map is the one loaded here
    with pytest.raises(Resolver404):
        resolve("/bench/communities/1/client/123/bflus")


@pytest.mark.parametrize(
    "value, says",
    [
        ("1", "TRUSTED_PROXIES"),  # the old count form: an address list now
        ("0", "TRUSTED_PROXIES"),
        ("10.0.0.1, load-balancer", "load-balancer"),
        ("10.0.0.0/33", "10.0.0.0/33"),
        ("10.0.0.300", "10.0.0.300"),
    ],
)
def test_unparseable_trusted_proxies_stop_start_up(value, says):
    result = start(TRUSTED_PROXIES=value)
    assert result.returncode != 0
    assert "Bfluence cannot start" in result.stderr and says in result.stderr


def test_trusted_proxies_take_addresses_and_ranges():
    result = start(TRUSTED_PROXIES="10.0.0.5, 192.168.0.0/16 ,fd00::/8")
    assert result.returncode == 0, result.stderr
