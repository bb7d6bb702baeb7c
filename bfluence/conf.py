"""One typed accessor for the project's own settings (``settings.BFLUENCE`` and the JWT keys)."""

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class AppSettings:
    permission_catalogue: tuple[str, ...]
    signing_key: str
    previous_signing_keys: tuple[str, ...]
    issuer: str
    audience: str
    leeway_seconds: int
    access_token_lifetime: timedelta
    max_request_body_bytes: int
    trusted_proxies: tuple[IPv4Network | IPv6Network | Literal["unix"], ...]  # bfluence.source_ip.Proxy
    throttle_ipv6_prefix: int
    console_password_window: timedelta
    console_time_zone: str
    audit_export: str
    audit_failure_retention: timedelta


@lru_cache(maxsize=1)
def app_settings() -> AppSettings:
    own, jwt = settings.BFLUENCE, settings.SIMPLE_JWT
    return AppSettings(
        permission_catalogue=tuple(own["PERMISSION_CATALOGUE"]),
        signing_key=jwt["SIGNING_KEY"],
        previous_signing_keys=tuple(own["JWT_PREVIOUS_SIGNING_KEYS"]),
        issuer=jwt["ISSUER"],
        audience=jwt["AUDIENCE"],
        leeway_seconds=int(jwt["LEEWAY"]),
        access_token_lifetime=jwt["ACCESS_TOKEN_LIFETIME"],
        max_request_body_bytes=int(own["MAX_REQUEST_BODY_BYTES"]),
        trusted_proxies=tuple(own.get("TRUSTED_PROXIES", ())),
        throttle_ipv6_prefix=int(own.get("THROTTLE_IPV6_PREFIX", 64)),
        console_password_window=own["CONSOLE_PASSWORD_WINDOW"],
        console_time_zone=own["CONSOLE_TIME_ZONE"],
        audit_export=own.get("AUDIT_EXPORT", ""),
        audit_failure_retention=own.get("AUDIT_FAILURE_RETENTION", timedelta(days=90)),
    )


@receiver(setting_changed)
def _forget_cached_settings(*, setting: str, **kwargs) -> None:
    if setting in {"BFLUENCE", "SIMPLE_JWT"}:
        app_settings.cache_clear()
