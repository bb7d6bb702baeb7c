"""Staff sign-in: rate limited per account + source IP (django-axes), and every sign-in, failed sign-in and
lockout in the audit trail with who and from where (SPEC §5a).

django-axes counts failures in the database (its database handler), so the limit holds whatever the
cache backend and however many processes run. This module only adapts it to the project: the source IP
by the project's ``TRUSTED_PROXIES`` rule, a console page for the lockout, and the audit rows.
"""

import fcntl
import functools
import hashlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from bfluence import metrics
from bfluence.source_ip import request_limit_bucket, request_source_ip
from console.humane import duration
from console.second_factor import security_members

Event = AuditEvent.EventType

# Set on the request when axes refused an attempt because the account + IP was already locked, so the
# lockout is recorded once, when it starts, and later attempts as refused sign-ins.
_REFUSED_WHILE_LOCKED = "bfluence_signin_refused_while_locked"
# Set by the password prompt (console.views.confirm_password): its failures are their own event type.
AT_THE_PROMPT = "bfluence_at_the_password_prompt"


def source_ip(request) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the caller's address exactly as the API's limits and audit rows see
    it, so a forged ``X-Forwarded-For`` cannot move an attacker into a fresh bucket."""
    return request_source_ip(request)


def lockout_address(request) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address the lockout counts by — ``source_ip``, with an IPv6
    address taken as its ``THROTTLE_IPV6_PREFIX`` network, so a fresh address per attempt from one /64
    is still one source. Audit rows keep the full ``source_ip``."""
    return request_limit_bucket(request)


class StaffSignInGuard(AxesStandaloneBackend):
    """axes' check, first in ``AUTHENTICATION_BACKENDS``: a locked account + IP is refused before the
    password hasher runs (which costs ~0.3 s of worker CPU per attempt)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            setattr(request, _REFUSED_WHILE_LOCKED, True)
            raise


def attempted_username(request, credentials: dict | None = None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: the account an attempt names, if that account exists, else ``None``.

    A name that matches no account is neither stored by axes nor put in the audit trail — people type
    their password into the username field. Attempts at unknown names from one address share one
    bucket (username ``None`` + IP), so spraying invented names is limited too.
    """
    field = get_user_model().USERNAME_FIELD
    value = (credentials or {}).get(field)
    if value is None and request is not None and request.method == "POST":
        value = request.POST.get(field)
    if not isinstance(value, str) or not value:
        return None
    exists = get_user_model()._default_manager.filter(**{field: value}).exists()
    return value if exists else None


def _claimed_actor(request, username: str | None) -> Actor:
    """Who the attempt claims to be: the staff account if it exists, else an anonymous caller."""
    ip = source_ip(request)
    if username:
        return Actor(AuditEvent.ActorType.STAFF, username, ip)
    return Actor(AuditEvent.ActorType.ANONYMOUS, "-", ip)


@receiver(user_logged_in, dispatch_uid="bfluence-audit-staff-signed-in")
def _audit_signed_in(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    # The network it came from (lockout_address), so that later attempts from there count as known staff.
    audit_record(
        event_type=Event.STAFF_SIGNED_IN,
        actor=Actor.staff(user, source_ip=source_ip(request)),
        details={"source_network": lockout_address(request)},
    )
    setattr(request, _SIGNED_IN_AS, user.get_username())


@receiver(user_login_failed, dispatch_uid="bfluence-audit-staff-sign-in-failed")
def _audit_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is None:
        return
    if getattr(request, _REFUSED_WHILE_LOCKED, False):
        # Refused unchecked while locked: the lock itself is one row (STAFF_LOCKED_OUT); every further
        # attempt is counted, not recorded, or anyone could grow the trail without bound by retrying.
        metrics.throttled("staff_signin_locked")
        return
    actor = _claimed_actor(request, attempted_username(request, credentials))
    at_prompt = bool(getattr(request, AT_THE_PROMPT, False))
    audit_record(
        event_type=Event.STAFF_PROMPT_FAILED if at_prompt else Event.STAFF_SIGN_IN_FAILED,
        actor=actor,
        details={
            "reason": "invalid_credentials",
            "account_known": actor.kind == AuditEvent.ActorType.STAFF,
        },
    )


@receiver(user_logged_out, dispatch_uid="bfluence-audit-staff-signed-out")
def _audit_signed_out(sender, request, user, **kwargs) -> None:
    if request is None or user is None:
        return
    audit_record(event_type=Event.STAFF_SIGNED_OUT, actor=Actor.staff(user, source_ip=source_ip(request)))


def attempts_left(request) -> int | None:
    """How many more wrong passwords this account + address may try before the lock (after a failure)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None or getattr(request, "axes_locked_out", False):
        return None
    return max(0, settings.AXES_FAILURE_LIMIT - failures)


def attempts_left_message(left: int) -> str:
    return ngettext(
        "%(count)s attempt left before this account is blocked from your address.",
        "%(count)s attempts left before this account is blocked from your address.",
        left,
    ) % {"count": left}


class ConsoleAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form, saying after a wrong password how many attempts are left."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError as refused:
            left = attempts_left(self.request) if self.request is not None else None
            if left:
                raise ValidationError(
                    [*refused.error_list, ValidationError(attempts_left_message(left))]
                ) from refused
            raise


def staff_lock_lift(*, username: str, actor: Actor, reason: str) -> int:
    """Lift a sign-in lock early (django-axes' documented ``reset``): every address's failures for this
    account are forgotten. Audited with who lifted it and why, and what was forgotten: the failed
    attempts (axes keeps one row per address, each counting its failures) and from how many addresses.
    Returns the failed attempts cleared."""
    with transaction.atomic():
        attempts = AccessAttempt.objects.filter(username=username)
        failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
        addresses = axes_reset(username=username)
        audit_record(
            event_type=Event.STAFF_LOCK_LIFTED,
            actor=actor,
            details={
                "subject": username,
                "attempts_cleared": failures,
                "addresses_cleared": addresses,
                "reason": reason,
            },
        )
    return failures


@receiver(user_locked_out, dispatch_uid="bfluence-audit-staff-locked-out")
def _audit_locked_out(sender, request, username=None, ip_address=None, **kwargs) -> None:
    if request is None or getattr(request, _REFUSED_WHILE_LOCKED, False):
        return  # already locked: that attempt is recorded as a refused sign-in, not a new lockout
    actor = _claimed_actor(request, username)  # axes passes attempted_username's answer
    cool_off = get_cool_off(request)
    audit_record(
        event_type=Event.STAFF_LOCKED_OUT,
        actor=actor,
        details={
            "failures": getattr(request, "axes_failures_since_start", None),
            "locked_for_seconds": int(cool_off.total_seconds()) if cool_off else None,
            "account_known": actor.kind == AuditEvent.ActorType.STAFF,
        },
    )


@contextmanager
def one_attempt_at_a_time(username: str, ip: str | None) -> Iterator[None]:
    """Hold the sign-in of one account from one address to one attempt at a time.

    axes checks the count, then the password is hashed, then the failure is counted: parallel attempts
    would all pass the check before any failure lands (30 at once on 4 workers got 8 guesses against a
    limit of 5). Serialised per account + IP, the count every attempt sees is exact. On PostgreSQL a
    transaction-scoped advisory lock does it across every process and host; SQLite is the one-machine
    development database, where a process-wide lock does.
    """
    if connection.vendor == "postgresql":
        digest = hashlib.sha256(f"bfluence-signin|{username}|{ip}".encode()).digest()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
                )
            yield
    else:
        with _process_lock:
            yield


_process_lock = threading.Lock()


# --- at most a few password hashes at once per process, one slot kept for known staff ------------------

_log = logging.getLogger("bfluence.signin")
_SIGNED_IN_AS = "bfluence_signed_in_as"  # set on the request by a successful sign-in
KNOWN_STAFF_COOKIE = "bfluence_known_staff"
_KNOWN_STAFF_SALT = "console.signin.known-staff"
KNOWN_STAFF_FOR = timedelta(days=90)


class SignInBusy(Exception):
    """No password-hash slot is free in this process: the attempt is answered "busy", not judged (no
    failure counted, no audit row), and the caller may try again in a few seconds."""


Release = Callable[[], None]


class _ProcessPool:
    """``size`` slots among this process's threads."""

    def __init__(self, size: int) -> None:
        self._semaphore = threading.BoundedSemaphore(size)

    def try_acquire(self) -> Release | None:
        return self._semaphore.release if self._semaphore.acquire(blocking=False) else None


class _ServerPool:
    """``size`` slots among every process of one gunicorn server: a ``flock`` on one of ``size`` files in
    a directory the master made (``STAFF_SIGNIN_SLOTS_DIR``). The kernel drops the lock when the file is
    closed or its process dies, so a killed worker never keeps a slot."""

    def __init__(self, directory: str, name: str, size: int) -> None:
        self._paths = [os.path.join(directory, f"{name}-{number}") for number in range(size)]

    def try_acquire(self) -> Release | None:
        for path in self._paths:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            return functools.partial(os.close, descriptor)  # closing it releases the lock
        return None


class HashSlots:
    """``general`` hashes at once (anyone), plus ``reserved`` more for known staff only.

    A hash costs ~0.3 s of CPU by design; a flood of sign-in attempts from fresh addresses would
    otherwise hash on every worker at once and take the API's CPU with it. Non-blocking: when none is
    free the attempt is answered at once instead of queueing. Per process (a ``BoundedSemaphore``), or,
    under gunicorn, per server: its sync workers serve one request each, so the slots are shared among
    them (``directory``: lock files).
    """

    def __init__(self, *, general: int, reserved: int, directory: str = "") -> None:
        def pool(name: str, size: int) -> _ProcessPool | _ServerPool:
            return _ServerPool(directory, name, size) if directory else _ProcessPool(size)

        self._general = pool("general", general)
        self._reserved = pool("reserved", reserved) if reserved else None

    @contextmanager
    def slot(self, known_staff: Callable[[], bool]) -> Iterator[None]:
        release = self._general.try_acquire()
        if release is None and self._reserved is not None and known_staff():
            release = self._reserved.try_acquire()
        if release is None:
            raise SignInBusy()
        try:
            yield
        finally:
            release()


@lru_cache(maxsize=1)
def hash_slots() -> HashSlots:
    return HashSlots(
        general=settings.STAFF_SIGNIN_CONCURRENT_HASHES,
        reserved=settings.STAFF_SIGNIN_RESERVED_HASHES,
        directory=settings.STAFF_SIGNIN_SLOTS_DIR,
    )


@receiver(setting_changed)
def _new_slots(*, setting: str, **kwargs) -> None:
    if setting.startswith("STAFF_SIGNIN_"):
        hash_slots.cache_clear()


def known_staff(request) -> bool:
    """A signed-in staff member (the sudo prompt), a browser holding the signed cookie a successful
    sign-in left (90 days), or an address from a network where staff signed in within 90 days (the audit
    trail). Asked only when every general slot is taken."""
    if request is None:
        return False
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    name = request.get_signed_cookie(
        KNOWN_STAFF_COOKIE, default=None, salt=_KNOWN_STAFF_SALT, max_age=KNOWN_STAFF_FOR
    )
    model = get_user_model()
    if name and model._default_manager.filter(**{model.USERNAME_FIELD: name}, is_staff=True).exists():
        return True
    network = lockout_address(request)
    return network is not None and (
        AuditEvent.objects.filter(
            event_type=Event.STAFF_SIGNED_IN,
            occurred_at__gte=timezone.now() - KNOWN_STAFF_FOR,
            details__source_network=network,
        ).exists()
    )


class CappedModelBackend(ModelBackend):
    """Django's ``ModelBackend``, hashing only inside a ``HashSlots`` slot (``SignInBusy`` otherwise)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        with hash_slots().slot(lambda: known_staff(request)):
            return super().authenticate(request, username=username, password=password, **kwargs)


def busy_response(request) -> TemplateResponse:
    """The console page for ``SignInBusy``: 503 with ``Retry-After``; logged and counted, not audited
    (an outsider's flood must not grow the audit trail)."""
    metrics.throttled("staff_signin_busy")
    _log.warning("staff sign-in refused: busy", extra={"ip": source_ip(request)})
    context = {**admin.site.each_context(request), "title": admin.site.site_header}
    response = TemplateResponse(request, "console/signin_busy.html", context, status=503)
    response["Retry-After"] = "5"
    add_never_cache_headers(response)
    return response.render()


class OneSignInAttemptAtATime:
    """Middleware (after authentication, just before axes'): every console POST that carries a password
    — the sign-in form and the sudo prompt — runs inside ``one_attempt_at_a_time`` for the account it
    names (or the signed-in one) and the source IP. Everything else passes straight through, and API
    bodies are never read here."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.prefix: str | None = None  # resolved on first use: URLconf may not be loaded yet

    def __call__(self, request):
        if request.method != "POST":
            return self.get_response(request)
        if self.prefix is None:
            self.prefix = reverse("admin:index")
        if not request.path_info.startswith(self.prefix) or "password" not in request.POST:
            return self.get_response(request)
        username = request.POST.get(get_user_model().USERNAME_FIELD) or request.user.get_username()
        with one_attempt_at_a_time(username, lockout_address(request)):
            response = self.get_response(request)
        signed_in_as = getattr(request, _SIGNED_IN_AS, None)
        if signed_in_as:  # remembered, signed, for the reserved hash slot (``known_staff``)
            response.set_signed_cookie(
                KNOWN_STAFF_COOKIE,
                signed_in_as,
                salt=_KNOWN_STAFF_SALT,
                max_age=int(KNOWN_STAFF_FOR.total_seconds()),
                path=self.prefix,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def process_exception(self, request, exception):
        """``SignInBusy`` from the password backend: the "busy, try again" page."""
        if isinstance(exception, SignInBusy):
            return busy_response(request)
        return None


def lock_time_left(request, credentials=None) -> timedelta:
    """How long this account + address stays locked, to the second.

    The cool-off counts from the failure that locked it (attempts while locked do not extend it:
    ``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT``), so someone coming back ten minutes into a
    fifteen-minute lock has five left, not fifteen. axes' own query finds that failure.
    """
    cool_off = get_cool_off(request)
    attempts = AxesProxyHandler.get_implementation().get_user_attempts(request, credentials)
    locked_at = max(
        (last for found in attempts if (last := found.aggregate(last=Max("attempt_time"))["last"])),
        default=timezone.now(),
    )
    return max(locked_at + cool_off - timezone.now(), timedelta(0))


def lockout_response(request, original_response=None, credentials=None) -> TemplateResponse:
    """``AXES_LOCKOUT_CALLABLE``: a console page (429) that says what happened and how long is left."""
    left = lock_time_left(request, credentials)
    left_seconds = max(1, math.ceil(left.total_seconds()))
    context = {
        **admin.site.each_context(request),
        "title": admin.site.site_header,
        # Whole minutes, rounded up ("1 minuto" for the last seconds): never less than what is left.
        "time_left": duration(60 * math.ceil(left_seconds / 60)),
        "signed_in": request.user.is_authenticated,
        # Names only for a colleague signed in (locked at the password prompt), never the locked person.
        # Someone not signed in may be anyone, naming any username: the page says who helps by role.
        "helpers": security_members(
            excluding=request.user,
            excluding_username=attempted_username(request, credentials),
        )
        if request.user.is_authenticated
        else [],
    }
    response = TemplateResponse(request, "console/locked_out.html", context, status=429)
    response["Retry-After"] = str(left_seconds)
    add_never_cache_headers(response)
    # Rendered here: axes' middleware sits innermost, and the middleware outside it reads the content.
    return response.render()
