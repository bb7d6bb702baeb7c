"""Settings for the Bfluence Partner API.

Every environment variable is read here, and only here (django-environ). Safe defaults: ``DEBUG`` is
off, and a production start without proper keys stops with a message that says what to set.
"""

import re
import secrets
import zoneinfo
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE as CSP_NONCE
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

from bfluence.durations import parse_duration
from bfluence.source_ip import parse_trusted_proxies

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env beside manage.py (dev.py writes one with generated dev keys). Values already in the
# environment win over it. The test settings switch it off: a developer's .env must not change a test.
if env.bool("BFLUENCE_READ_DOTENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _fail(message: str) -> None:
    raise ImproperlyConfigured(f"Bfluence cannot start: {message}")


# Settings that hold a secret: each may come from the environment (NAME) or from a file (NAME_FILE,
# e.g. /etc/bfluence/jwt_signing_key, readable by the service user only), never both. A file is read
# whenever a process loads these settings, so `systemctl reload bfluence` (gunicorn's HUP: new workers
# import the app afresh, as nothing is preloaded) picks up a key written there; the environment of a
# running service, EnvironmentFile included, changes only with a restart.
SECRET_SETTINGS = ("SECRET_KEY", "JWT_SIGNING_KEY", "JWT_PREVIOUS_SIGNING_KEYS", "DATABASE_URL", "CACHE_URL")


def _secret(name: str, default: str = "") -> str:
    file_name = f"{name}_FILE"
    path = env.str(file_name, default="")
    if not path:
        return env.str(name, default=default)
    if env.str(name, default=""):
        _fail(f"set {name} or {file_name}, not both.")
    try:
        # One value; the line break an editor or `echo` leaves at the end is not part of it.
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"{file_name}: cannot read {path!r} ({error.__class__.__name__}).")
        raise  # unreachable: _fail raises


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = _secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        _fail("set SECRET_KEY (a long random string), or DEBUG=true for local development.")
    SECRET_KEY = "insecure-development-only-secret-key-not-for-production"
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    # Django's own deployment check calls such a key weak; here it stops the start instead of a warning.
    _fail(
        "SECRET_KEY is too weak: use at least 50 random characters, e.g. "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# --- Token signing ---------------------------------------------------------------------------------
JWT_SIGNING_KEY = _secret("JWT_SIGNING_KEY")
if not JWT_SIGNING_KEY:
    if not DEBUG:
        _fail("set JWT_SIGNING_KEY (at least 32 random bytes, different from SECRET_KEY).")
    # Generated per process, never a constant from the repository (anyone could forge tokens with it).
    # Tokens then hold only within one process and until it restarts: `dev.py serve` writes a stable
    # key into .env for local runs.
    JWT_SIGNING_KEY = secrets.token_urlsafe(48)
if len(JWT_SIGNING_KEY.encode()) < 32:
    _fail("JWT_SIGNING_KEY must be at least 32 bytes long.")
if JWT_SIGNING_KEY == SECRET_KEY:
    _fail("JWT_SIGNING_KEY must differ from SECRET_KEY.")
# Comma-separated (in the file too, where line breaks also separate keys).
JWT_PREVIOUS_SIGNING_KEYS = [
    key.strip() for key in re.split(r"[,\n]", _secret("JWT_PREVIOUS_SIGNING_KEYS")) if key.strip()
]
if any(len(key.encode()) < 32 for key in JWT_PREVIOUS_SIGNING_KEYS):
    _fail("every key in JWT_PREVIOUS_SIGNING_KEYS must be at least 32 bytes long.")

_leeway = env.str("JWT_LEEWAY", default="10").strip()
if not re.fullmatch(r"[0-9]{1,2}", _leeway) or int(_leeway) > 30:
    _fail(f"JWT_LEEWAY must be a whole number of seconds from 0 to 30 (got {_leeway!r}).")
JWT_LEEWAY = int(_leeway)
try:
    ACCESS_TOKEN_LIFETIME = parse_duration(env.str("ACCESS_TOKEN_LIFETIME", default="24h"))
except ValueError as error:
    raise ImproperlyConfigured(f"Bfluence cannot start: ACCESS_TOKEN_LIFETIME: {error}") from error
if not 1 <= ACCESS_TOKEN_LIFETIME.total_seconds() <= 30 * 86400:
    # Beyond 30 days a leaked token is a standing credential; far beyond, timestamps overflow.
    _fail("ACCESS_TOKEN_LIFETIME must be between 1s and 30d.")

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ISSUER": env.str("JWT_ISSUER", default="bfluence"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="bfluence-api"),
    "LEEWAY": JWT_LEEWAY,
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "AUTH_TOKEN_CLASSES": ("tokens.jwt.PartnerAccessToken",),
}

# --- Staff console ---------------------------------------------------------------------------------
# How long a typed password counts as fresh before a secret is created or revealed ("sudo mode").
try:
    CONSOLE_PASSWORD_WINDOW = parse_duration(env.str("CONSOLE_PASSWORD_WINDOW", default="10m"))
except ValueError as error:
    raise ImproperlyConfigured(f"Bfluence cannot start: CONSOLE_PASSWORD_WINDOW: {error}") from error
if not 0 < CONSOLE_PASSWORD_WINDOW.total_seconds() <= 12 * 3600:
    _fail("CONSOLE_PASSWORD_WINDOW must be between 1s and 12h.")
# The zone staff read times in (the database keeps UTC).
CONSOLE_TIME_ZONE = env.str("CONSOLE_TIME_ZONE", default="America/Sao_Paulo")
try:
    zoneinfo.ZoneInfo(CONSOLE_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    _fail(f"CONSOLE_TIME_ZONE {CONSOLE_TIME_ZONE!r} is not a known time zone (e.g. America/Sao_Paulo).")

# Every audit row is also appended to this file as one JSON line once its transaction commits (log
# shipping, and what `post_restore` re-applies after a database restore). Empty: no export.
AUDIT_EXPORT = env.str("AUDIT_EXPORT", default="")
if AUDIT_EXPORT and not Path(AUDIT_EXPORT).is_absolute():
    _fail(
        f"AUDIT_EXPORT must be an absolute path (e.g. /var/lib/bfluence/audit.jsonl), not {AUDIT_EXPORT!r}."
    )

# Failed-authentication audit rows of unknown clients are kept this long (purge_audit deletes them).
try:
    AUDIT_FAILURE_RETENTION = parse_duration(env.str("AUDIT_FAILURE_RETENTION", default="90d"))
except ValueError as error:
    raise ImproperlyConfigured(f"Bfluence cannot start: AUDIT_FAILURE_RETENTION: {error}") from error
if timedelta(days=1) > AUDIT_FAILURE_RETENTION:
    _fail("AUDIT_FAILURE_RETENTION must be at least 1d.")

# The second factor (django-otp, django-otp-webauthn). The passkey's relying party is the console's own
# host name (from the request, which ALLOWED_HOSTS has already vetted): console.second_factor.
OTP_TOTP_ISSUER = "Bfluence"
OTP_WEBAUTHN_RP_NAME = "Bfluence"
OTP_WEBAUTHN_HELPER_CLASS = "console.second_factor.ConsoleWebAuthnHelper"
OTP_WEBAUTHN_RP_ID_CALLABLE = "console.second_factor.relying_party_id"
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False  # a passkey is the second factor, after the password
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = "bfluence.console"

# The project's own knobs; read through bfluence.conf.app_settings().
BFLUENCE = {
    "AUDIT_EXPORT": AUDIT_EXPORT,
    "AUDIT_FAILURE_RETENTION": AUDIT_FAILURE_RETENTION,
    "CONSOLE_PASSWORD_WINDOW": CONSOLE_PASSWORD_WINDOW,
    "CONSOLE_TIME_ZONE": CONSOLE_TIME_ZONE,
    "PERMISSION_CATALOGUE": env.list("PERMISSION_CATALOGUE", default=["bflus:read", "bflus:write"]),
    "JWT_PREVIOUS_SIGNING_KEYS": JWT_PREVIOUS_SIGNING_KEYS,
    "MAX_REQUEST_BODY_BYTES": 16 * 1024,
}

# --- Application -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "console",  # first: its templates refine the admin's own (base_site.html)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "bfluence",
    "audit",
    "communities",
    "clients",
    "tokens",
    "notifications",
    "leaks",
    "axes",  # staff sign-in rate limit (see AXES_* below)
    # The staff second factor (SPEC §5a): TOTP from any authenticator app, one-use recovery codes
    # (django-otp's addstatictoken), passkeys (django-otp-webauthn).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
]

MIDDLEWARE = [
    "bfluence.probes.HealthProbeMiddleware",  # first: load balancers probe by IP, before Host checks
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "bfluence.middleware.ConsoleMiddleware",  # last: runs CONSOLE_MIDDLEWARE, for every path but the API's
]
# What the staff console (and any page that is not the API) needs; the API authenticates by Bearer token
# alone, so these never run on API_PATH_PREFIXES (bfluence/middleware.py says why).
CONSOLE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the second factor was given
    "console.second_factor_gate.SecondFactorGate",  # staff without a verified second factor can only enrol
    "console.middleware.StaffTimeZoneMiddleware",  # staff read times in CONSOLE_TIME_ZONE
    "console.middleware.MistypedPathUnderRecord",  # …/1/no-such-page/: a 404, not "record missing"
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy of the console and the API docs (below)
    "console.signin.OneSignInAttemptAtATime",  # sign-in attempts per account + IP one at a time (exact limit)
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires: turns a lockout into the console page
]
API_PATH_PREFIXES = ["/auth/", "/communities/", "/security/", "/healthz", "/readyz", "/.well-known/"]
# Django's and django-axes' own checks look for these in MIDDLEWARE only; bfluence/checks.py checks
# CONSOLE_MIDDLEWARE instead (and repeats security.W016, which Django then skips).
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W003", "axes.W002"]
# django-otp-webauthn wants a fixed OTP_WEBAUTHN_ALLOWED_ORIGINS; ConsoleWebAuthnHelper uses the request's
# own origin instead (its host already vetted by ALLOWED_HOSTS), so every allowed host works.
SILENCED_SYSTEM_CHECKS += ["otp_webauthn.E030"]
# Prometheus metrics (bfluence/metrics.py); gunicorn serves them on METRICS_BIND (gunicorn.conf.py).
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
if METRICS_ENABLED:
    MIDDLEWARE.insert(0, "bfluence.metrics.RequestMetricsMiddleware")
# Outermost: every line logged while a request is handled carries its id (bfluence/request_id.py).
MIDDLEWARE.insert(0, "bfluence.request_id.RequestIdMiddleware")

ROOT_URLCONF = "bfluence.urls"
WSGI_APPLICATION = "bfluence.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": environ.Env.db_url_config(
        _secret("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    )
}
# Every multi-row write is wrapped explicitly in a transaction by the services.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Values sent apart from the SQL, and the statements every request repeats prepared after their second
    # use, so PostgreSQL plans them once per connection (Django's and psycopg's documented options).
    # DATABASE_PREPARED_STATEMENTS=false for a pooler that cannot keep them (PgBouncer before 1.21 in
    # transaction mode; docs/capacity.md).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        2 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
    )

CACHES = {"default": environ.Env.cache_url_config(_secret("CACHE_URL", default="locmemcache://bfluence"))}
# A cache that stops answering must not hold a worker: each call gives up after these (seconds), and
# after a failure this process leaves the cache alone for CACHE_BREAKER_PAUSE (bfluence/cache.py).
CACHE_CONNECT_TIMEOUT = env.float("CACHE_CONNECT_TIMEOUT", default=0.25)
CACHE_TIMEOUT = env.float("CACHE_TIMEOUT", default=0.25)
CACHE_BREAKER_PAUSE = env.float("CACHE_BREAKER_PAUSE", default=2.0)
for _name, _value, _most in (
    ("CACHE_CONNECT_TIMEOUT", CACHE_CONNECT_TIMEOUT, 1.0),
    ("CACHE_TIMEOUT", CACHE_TIMEOUT, 1.0),
    ("CACHE_BREAKER_PAUSE", CACHE_BREAKER_PAUSE, 60.0),
):
    if not 0 < _value <= _most:
        _fail(f"{_name} must be more than 0 and at most {_most:g} seconds, not {_value:g}.")
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    CACHES["default"].setdefault("OPTIONS", {}).update(
        SOCKET_CONNECT_TIMEOUT=CACHE_CONNECT_TIMEOUT, SOCKET_TIMEOUT=CACHE_TIMEOUT
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Staff sign-in: rate limited per account + source IP (django-axes, SPEC §5a) -------------------
# Attempts are counted in the database (axes' database handler), so the limit holds with any cache
# backend and any number of processes. Locked attempts are refused before the password hasher runs.
AUTHENTICATION_BACKENDS = [
    "console.signin.StaffSignInGuard",  # axes' check first: a locked account+IP never reaches the hasher
    "console.signin.CappedModelBackend",  # Django's ModelBackend, at most a few hashes at once per process
]
# Password hashes at once per process, for anyone; and more, reserved for known staff (console/signin.py).
STAFF_SIGNIN_CONCURRENT_HASHES = env.int("STAFF_SIGNIN_CONCURRENT_HASHES", default=2)
STAFF_SIGNIN_RESERVED_HASHES = env.int("STAFF_SIGNIN_RESERVED_HASHES", default=1)
if not 1 <= STAFF_SIGNIN_CONCURRENT_HASHES <= 64 or not 0 <= STAFF_SIGNIN_RESERVED_HASHES <= 64:
    _fail("STAFF_SIGNIN_CONCURRENT_HASHES must be 1–64 and STAFF_SIGNIN_RESERVED_HASHES 0–64.")
# ... per gunicorn server when it sets this (gunicorn.conf.py: lock files its workers share); else per process.
STAFF_SIGNIN_SLOTS_DIR = env.str("STAFF_SIGNIN_SLOTS_DIR", default="")
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
try:
    AXES_FAILURE_LIMIT = env.int("STAFF_SIGNIN_FAILURE_LIMIT", default=5)
except ValueError as error:
    raise ImproperlyConfigured(
        "Bfluence cannot start: STAFF_SIGNIN_FAILURE_LIMIT must be a number."
    ) from error
if not 1 <= AXES_FAILURE_LIMIT <= 100:
    _fail("STAFF_SIGNIN_FAILURE_LIMIT must be between 1 and 100.")
try:
    AXES_COOLOFF_TIME = parse_duration(env.str("STAFF_SIGNIN_LOCKOUT", default="15m"))
except ValueError as error:
    raise ImproperlyConfigured(f"Bfluence cannot start: STAFF_SIGNIN_LOCKOUT: {error}") from error
if not 60 <= AXES_COOLOFF_TIME.total_seconds() <= 86400:
    _fail("STAFF_SIGNIN_LOCKOUT must be between 1m and 24h.")
# The lockout lasts exactly AXES_COOLOFF_TIME from the failure that triggered it, as the page says;
# attempts while locked are refused (and audited) without extending it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "console.signin.attempted_username"  # an unknown name is never stored
# The same TRUSTED_PROXIES rule as everything else, IPv6 counted by THROTTLE_IPV6_PREFIX network.
AXES_CLIENT_IP_CALLABLE = "console.signin.lockout_address"
AXES_LOCKOUT_CALLABLE = "console.signin.lockout_response"  # a console page, never API JSON
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit trail already
AXES_ENABLE_ADMIN = (
    False  # the audit trail is the console's record; locks are lifted with axes_reset_* commands
)
AXES_VERBOSE = False
# Masked in what axes stores of the login request (besides the password, always masked).
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "csrfmiddlewaretoken",
    "client_secret",
    "access_token",
    "token",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language: pt-BR first, English on request ---------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
# The project's own strings; then pt-BR for django-otp-webauthn, which ships none, and rewordings of
# Django's own pt-BR (kept apart from locale/ so makemessages never drops them as obsolete).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "console" / "passkey_locale"]
TIME_ZONE = "UTC"
# One date-time format in the console ("27/11/2026 21:30"), whatever the page.
FORMAT_MODULE_PATH = ["console.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic writes and nginx serves /static/ from (deploy/nginx/bfluence.conf).
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# WhiteNoise serves the admin's and the docs' static files from the app servers themselves: no CDN and
# no separate web server. ``collectstatic`` at deploy time adds compressed copies; without it, files are
# found in the apps directly.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- HTTP API --------------------------------------------------------------------------------------
# Addresses / CIDR ranges of our own reverse proxies: X-Forwarded-For is believed from them only.
try:
    TRUSTED_PROXIES = parse_trusted_proxies(env.list("TRUSTED_PROXIES", default=[]))
except ValueError as error:
    raise ImproperlyConfigured(f"Bfluence cannot start: TRUSTED_PROXIES: {error}") from error
BFLUENCE["TRUSTED_PROXIES"] = TRUSTED_PROXIES
# Per-source limits count an IPv6 address by its network of this many bits (bfluence/source_ip.py).
try:
    BFLUENCE["THROTTLE_IPV6_PREFIX"] = env.int("THROTTLE_IPV6_PREFIX", default=64)
except ValueError as error:
    raise ImproperlyConfigured("Bfluence cannot start: THROTTLE_IPV6_PREFIX must be a number.") from error
if not 32 <= BFLUENCE["THROTTLE_IPV6_PREFIX"] <= 128:
    _fail("THROTTLE_IPV6_PREFIX must be between 32 and 128 (64: one subscriber's network).")

# DRF's "N/period" (the throttles read the period's first letter): checked here, so that a typo stops
# the start with a message instead of failing every request at run time.
_RATE = re.compile(r"[1-9][0-9]{0,8}/(s|sec|second|m|min|minute|h|hour|d|day)")


def _rate(name: str, default: str) -> str:
    rate = env.str(name, default=default).strip()
    if not _RATE.fullmatch(rate):
        _fail(
            f"{name} must look like 60/min: a whole number from 1, '/', then s, m (min), h or d "
            f"(got {rate!r})."
        )
    return rate


REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ("bfluence.http.JSONUTF8Renderer",),
    "DEFAULT_PARSER_CLASSES": ("bfluence.http.StrictJSONParser",),
    "DEFAULT_AUTHENTICATION_CLASSES": ("tokens.authentication.BearerTokenAuthentication",),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticated",),
    "DEFAULT_THROTTLE_CLASSES": ("tokens.throttling.CommunityRateThrottle",),
    "EXCEPTION_HANDLER": "bfluence.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "token_client": _rate("THROTTLE_TOKEN_CLIENT", "60/min"),
        "token_ip": _rate("THROTTLE_TOKEN_IP", "300/min"),
        "token_failures": _rate("THROTTLE_TOKEN_FAILURES", "10/min"),
        # Not a limit: failed authentications per client_id that get an audit row (clients/limits.py).
        "token_failures_audited": _rate("AUDIT_FAILURES_PER_CLIENT", "100/hour"),
        # Not a limit either: refusals of a real credential (ended or suspended secret, inactive community,
        # policy), which name the community, that get an audit row per client_id (clients/limits.py).
        "credential_refusals_audited": _rate("AUDIT_CREDENTIAL_REFUSALS_PER_CLIENT", "100/hour"),
        "api": _rate("THROTTLE_API", "6000/min"),
    },
}

# OpenAPI 3 at /api/schema/ and interactive docs at /api/docs/, every asset served by us (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Bfluence Partner API",
    "DESCRIPTION": gettext_lazy(
        # Markdown (Swagger UI renders it): code spans keep `<token>` from being read as an HTML tag.
        "Partner communities exchange their `client_id` and `client_secret` for a short-lived Bearer token "
        "(JWT, HS256) at `POST /auth/token`, then call private endpoints with "
        "`Authorization: Bearer <token>`. Every error has the shape "
        '`{"error": "…", "error_description": "…"}`. To try it here: Authorize with your '
        "client_id and client_secret (client credentials), then Try it out on get-bflus."
    ),
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "persistAuthorization": False,
        "displayOperationId": False,
        "tryItOutEnabled": True,
    },
    "SWAGGER_UI_OAUTH2_CONFIG": {"scopes": ["bflus:read"]},
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "",
    "PREPROCESSING_HOOKS": ["bfluence.schema_hooks.canonical_paths_only"],
    "TAGS": [
        {"name": "auth", "description": gettext_lazy("Tokens: get, inspect, revoke.")},
        {"name": "communities", "description": gettext_lazy("Your community's data.")},
        {"name": "operations", "description": gettext_lazy("Health probes for load balancers.")},
    ],
}

# --- HTTPS and response hygiene -------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load balancers probe over plain HTTP
if SECURE_SSL_REDIRECT:
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if TRUSTED_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        # ... from those proxies only: dropped from anyone else before SecurityMiddleware reads it.
        MIDDLEWARE.insert(
            MIDDLEWARE.index("django.middleware.security.SecurityMiddleware"),
            "bfluence.source_ip.ForwardedProtoFromTrustedProxiesOnly",
        )
SECURE_CONTENT_TYPE_NOSNIFF = True
# "same-origin", not "no-referrer": with no-referrer browsers send "Origin: null" on form posts, and the
# admin's CSRF origin check (rightly) refuses them. Nothing leaks to other sites either way.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; Django 5.2 has none of its own) on every page that is not the
# API's: the staff console and the API docs (CONSOLE_MIDDLEWARE runs it). Only this site's own files; the
# docs page's one inline script and style carry the response's nonce. Nothing may frame a page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF, CSP_NONCE],
        "style-src": [CSP_SELF, CSP_NONCE],
        "img-src": [CSP_SELF, "data:"],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_NONE],
        "form-action": [CSP_SELF],
        "frame-ancestors": [CSP_NONE],
    },
}

# A stale tab's form: a console page in the staff member's language, never Django's bare page.
CSRF_FAILURE_VIEW = "console.views.csrf_failure"
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Logging: one JSON object per line, never a secret or a whole token ---------------------------
# json (default; what log shippers parse) or text (escaped one-line form for reading a local terminal).
LOG_FORMAT = env.str("LOG_FORMAT", default="json").lower()
_LOG_FORMATTERS = {
    "json": "bfluence.log_format.JsonLogFormatter",
    "text": "bfluence.log_format.TextLogFormatter",
}
if LOG_FORMAT not in _LOG_FORMATTERS:
    _fail("LOG_FORMAT must be json or text.")
LOGGING_CONFIG = "bfluence.log_format.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": _LOG_FORMATTERS[LOG_FORMAT]}},
    "filters": {
        "redact_credentials": {"()": "bfluence.log_filters.RedactCredentials"},
        "request_id": {"()": "bfluence.request_id.AddRequestId"},
        "one_line_warning": {"()": "bfluence.request_id.OneLineWarning"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["request_id", "redact_credentials"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # A Host not in ALLOWED_HOSTS: one WARNING line, no traceback (scanners send them all day).
        "django.security.DisallowedHost": {"level": "WARNING", "filters": ["one_line_warning"]},
        # axes narrates every sign-in at INFO with the account and IP masked; the audit trail has the facts.
        "axes": {"level": "WARNING"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Partner security notifications (SPEC §2.10) and leaked-secret reports (§2.9) -------------------
# Mail: django-environ's EMAIL_URL (smtp://user:password@host:587, smtp+tls://…, smtps://…); the default
# prints mail on the console, as `dev.py serve` wants.
vars().update(environ.Env.email_url_config(_secret("EMAIL_URL", default="consolemail://")))
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Bfluence <security@bfluence.example>")
try:
    WEBHOOK_TIMEOUT = float(env.str("WEBHOOK_TIMEOUT", default="10"))
except ValueError:
    WEBHOOK_TIMEOUT = -1.0
if not 0 < WEBHOOK_TIMEOUT <= 60:
    _fail("WEBHOOK_TIMEOUT must be a number of seconds above 0 and at most 60.")
# Hosts a webhook may reach over plain HTTP and on any address (local receivers, tests); default none.
WEBHOOK_INSECURE_HOSTS = env.list("WEBHOOK_INSECURE_HOSTS", default=[])
# A CA bundle to trust for webhook receivers instead of the system's (a private CA; tests).
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")
try:
    NOTIFICATION_RETRY_HORIZON = parse_duration(env.str("NOTIFICATION_RETRY_HORIZON", default="48h"))
except ValueError as error:
    raise ImproperlyConfigured(f"Bfluence cannot start: NOTIFICATION_RETRY_HORIZON: {error}") from error
if not 86400 <= NOTIFICATION_RETRY_HORIZON.total_seconds() <= 30 * 86400:
    _fail("NOTIFICATION_RETRY_HORIZON must be between 24h and 30d.")
# Deliver right after each commit in a background thread (`dev.py serve`: no worker process needed).
NOTIFICATIONS_DELIVER_ON_COMMIT = env.bool("NOTIFICATIONS_DELIVER_ON_COMMIT", default=False)
SECRET_SCANNING_KEYS_URL = env.str(
    "SECRET_SCANNING_KEYS_URL", default="https://api.github.com/meta/public_keys/secret_scanning"
)
SECRET_SCANNING_KEYS_FILE = env.str("SECRET_SCANNING_KEYS_FILE", default="")
SECRET_SCANNING_KEYS_TIMEOUT = env.float("SECRET_SCANNING_KEYS_TIMEOUT", default=5)
SECRET_SCANNING_MAX_BODY_BYTES = 1024 * 1024
