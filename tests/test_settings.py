"""Production start-up refuses unsafe settings with a message that says what to set (SPEC §6)."""

import hashlib
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


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"ACCESS_TOKEN_LIFETIME": "31d"}, "ACCESS_TOKEN_LIFETIME"),
        ({"ACCESS_TOKEN_LIFETIME": "300000d"}, "ACCESS_TOKEN_LIFETIME"),
        ({"ACCESS_TOKEN_LIFETIME": "999999999d"}, "ACCESS_TOKEN_LIFETIME"),
        ({"JWT_LEEWAY": "ten"}, "JWT_LEEWAY"),
        ({"JWT_LEEWAY": "-1"}, "JWT_LEEWAY"),
        ({"THROTTLE_TOKEN_CLIENT": "ten/min"}, "THROTTLE_TOKEN_CLIENT"),
        ({"THROTTLE_TOKEN_IP": "100/fortnight"}, "THROTTLE_TOKEN_IP"),
        ({"THROTTLE_TOKEN_FAILURES": "10"}, "THROTTLE_TOKEN_FAILURES"),
        ({"THROTTLE_API": "１０/min"}, "THROTTLE_API"),
        ({"THROTTLE_API": "0/min"}, "THROTTLE_API"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "ab" * 30}, "SECRET_KEY"),  # long, but five different characters at least
        ({"CACHE_TIMEOUT": "5"}, "CACHE_TIMEOUT"),  # a slow cache would hold a worker that long
        ({"CACHE_CONNECT_TIMEOUT": "0"}, "CACHE_CONNECT_TIMEOUT"),
        ({"CACHE_BREAKER_PAUSE": "600"}, "CACHE_BREAKER_PAUSE"),
        ({"NOTIFICATION_RETRY_HORIZON": "12h"}, "NOTIFICATION_RETRY_HORIZON"),  # under the 24 h promised
        ({"NOTIFICATION_RETRY_HORIZON": "forever"}, "NOTIFICATION_RETRY_HORIZON"),
        ({"WEBHOOK_TIMEOUT": "0"}, "WEBHOOK_TIMEOUT"),
        ({"WEBHOOK_TIMEOUT": "ten"}, "WEBHOOK_TIMEOUT"),
    ],
)
def test_absurd_settings_stop_start_up_with_a_clear_message(overrides, says):
    result = start(BFLUENCE_READ_DOTENV="false", **overrides)
    assert result.returncode != 0
    assert "Bfluence cannot start" in result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr.split("ImproperlyConfigured")[-1]


@pytest.mark.parametrize(
    "rate", ["60/min", "5/s", "100/second", "300/m", "10/h", "1000/hour", "9/d", "2/day"]
)
def test_every_documented_rate_form_starts(rate):
    result = start(BFLUENCE_READ_DOTENV="false", THROTTLE_TOKEN_CLIENT=rate, ACCESS_TOKEN_LIFETIME="30d")
    assert result.returncode == 0, result.stderr


def _signing_key_digest(**overrides) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bfluence.settings",
        "BFLUENCE_READ_DOTENV": "false",
        **overrides,
    }
    code = (
        "import hashlib; from django.conf import settings; "
        "print(hashlib.sha256(settings.SIMPLE_JWT['SIGNING_KEY'].encode()).hexdigest())"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=env,
        cwd="/tmp",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_without_a_jwt_key_never_signs_with_a_public_constant():
    first, second = _signing_key_digest(DEBUG="true"), _signing_key_digest(DEBUG="true")
    assert first != second  # generated per process: nothing published in the repo can forge its tokens
    old_constant = "insecure-development-only-jwt-signing-key-0123456789"
    assert hashlib.sha256(old_constant.encode()).hexdigest() not in (first, second)
