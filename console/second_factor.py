"""The staff second factor (SPEC §5a): TOTP from any authenticator app, one-use recovery codes and
passkeys, all through django-otp's devices. Every enrolment, use, failure, recovery-code use and reset
writes its audit row in the transaction that changed the devices.

A session is *verified* (``request.user.is_verified()``) once a factor was given at sign-in; the
password prompt (console/sudo.py) also asks for a fresh one (``factor_is_fresh``).
"""

import secrets
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http.request import split_domain_port
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from bfluence.conf import app_settings

Event = AuditEvent.EventType
FACTOR_SESSION_KEY = "console.second_factor_at"
RECOVERY_CODE_COUNT = 10
TOTP_NAME = "authenticator app"
RECOVERY_NAME = "recovery codes"


def relying_party_id(request) -> str:
    """``OTP_WEBAUTHN_RP_ID_CALLABLE``: the console's host name (ALLOWED_HOSTS vetted it already)."""
    domain, _port = split_domain_port(request.get_host())
    return domain


class ConsoleWebAuthnHelper(WebAuthnHelper):
    """Passkeys are bound to the origin the console is served from, whichever allowed host that is."""

    def get_allowed_origins(self) -> list[str]:
        return [f"{self.request.scheme}://{self.request.get_host()}"]


# --- what a person has and what this session has shown --------------------------------------------


def has_enrolled(user) -> bool:
    """An authenticator app or a passkey. Recovery codes alone get a person in, never count as enrolled."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    )


def has_any_factor(user) -> bool:
    return next(devices_for_user(user), None) is not None


def has_passkey(user) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def factor_confirmed(request) -> None:
    request.session[FACTOR_SESSION_KEY] = int(time.time())


def factor_is_fresh(request) -> bool:
    confirmed_at = request.session.get(FACTOR_SESSION_KEY)
    window = app_settings().console_password_window.total_seconds()
    return isinstance(confirmed_at, int) and 0 <= time.time() - confirmed_at < window


# --- using a factor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    accepted: bool
    throttled: bool = False
    recovery_codes_left: int | None = None  # when a recovery code was the one accepted


def second_factor_verify_code(*, request, user, code: str, actor: Actor, where: str) -> CodeCheck:
    """A code from the authenticator app or a recovery code, checked against each of the person's
    devices (django-otp's throttling applies); the session is verified on success. ``where`` tells the
    audit row whether this was the sign-in or the password prompt."""
    code = "".join(code.split())
    throttled = False
    with transaction.atomic():
        for device in devices_for_user(user, for_verify=True):
            if not isinstance(device, TOTPDevice | StaticDevice):
                continue
            allowed, _why = device.verify_is_allowed()
            if not allowed:
                throttled = True
                continue
            if device.verify_token(code):
                return _accepted(request, device, actor=actor, where=where)
        audit_record(
            event_type=Event.SECOND_FACTOR_FAILED,
            actor=actor,
            details={"where": where, "throttled": throttled},
        )
    return CodeCheck(accepted=False, throttled=throttled)


def _accepted(request, device, *, actor: Actor, where: str) -> CodeCheck:
    otp_login(request, device)
    factor_confirmed(request)
    if isinstance(device, StaticDevice):
        left = device.token_set.count()
        audit_record(
            event_type=Event.RECOVERY_CODE_USED, actor=actor, details={"where": where, "codes_left": left}
        )
        return CodeCheck(accepted=True, recovery_codes_left=left)
    audit_record(event_type=Event.SECOND_FACTOR_USED, actor=actor, details={"where": where, "method": "totp"})
    return CodeCheck(accepted=True)


def second_factor_passkey_used(*, request, actor: Actor) -> None:
    """After django-otp-webauthn verified a passkey: the audit row, and the factor counts as fresh."""
    factor_confirmed(request)
    audit_record(event_type=Event.SECOND_FACTOR_USED, actor=actor, details={"method": "passkey"})


def second_factor_passkey_refused(*, actor: Actor) -> None:
    audit_record(event_type=Event.SECOND_FACTOR_FAILED, actor=actor, details={"method": "passkey"})


# --- enrolling --------------------------------------------------------------------------------------


def totp_device_pending(*, user) -> TOTPDevice:
    """The authenticator-app key being set up: one unconfirmed device, kept until confirmed with a code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def second_factor_enrol_totp(
    *, request, user, device: TOTPDevice, code: str, actor: Actor
) -> list[str] | None:
    """Confirm the pending authenticator app with one of its codes. Returns the new recovery codes (to be
    shown once), or ``None`` when the code was wrong."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    if not device.verify_token("".join(code.split())):
        audit_record(event_type=Event.SECOND_FACTOR_FAILED, actor=actor, details={"where": "enrolment"})
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(event_type=Event.SECOND_FACTOR_ENROLLED, actor=actor, details={"method": "totp"})
    otp_login(request, device)
    factor_confirmed(request)
    return recovery_codes_issue(user=user, actor=actor)


def second_factor_passkey_enrolled(*, request, user, actor: Actor) -> list[str] | None:
    """After django-otp-webauthn stored a new passkey: the audit row; first recovery codes if none."""
    with transaction.atomic():
        audit_record(event_type=Event.SECOND_FACTOR_ENROLLED, actor=actor, details={"method": "passkey"})
        factor_confirmed(request)
        if StaticToken.objects.filter(device__user=user).exists():
            return None
        return recovery_codes_issue(user=user, actor=actor)


def recovery_codes_issue(*, user, actor: Actor) -> list[str]:
    """New one-use recovery codes; the person's earlier ones stop working. Returned to be shown once
    (django-otp keeps static tokens as given, as its ``addstatictoken`` does)."""
    with transaction.atomic():
        device = StaticDevice.objects.filter(user=user).order_by("pk").first()
        if device is None:
            device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
        device.token_set.all().delete()
        codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        audit_record(event_type=Event.RECOVERY_CODES_ISSUED, actor=actor, details={"count": len(codes)})
    return codes


def _recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud over the phone
    body = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{body[:5]}-{body[5:]}"


# --- resetting (two-person rule) -------------------------------------------------------------------


def security_members(*, excluding=None, excluding_username: str | None = None) -> list[str]:
    """Who can reset a factor or lift a lock: the active staff of the security group, by name; never the
    person asking (``excluding``, signed in, or ``excluding_username``, only named at sign-in)."""
    members = (
        get_user_model()
        ._default_manager.filter(groups__name="security", is_active=True, is_staff=True)
        .order_by("first_name", "username")
        .distinct()
    )
    if excluding is not None and excluding.is_authenticated:
        members = members.exclude(pk=excluding.pk)
    if excluding_username:
        members = members.exclude(**{get_user_model().USERNAME_FIELD: excluding_username})
    return [member.get_full_name() or member.get_username() for member in members]


def is_security_member(user) -> bool:
    return user.is_authenticated and user.groups.filter(name="security").exists()


class SamePerson(Exception):
    """Nobody resets their own second factor or lifts their own lock: another security member does."""


def staff_action_refused(*, actor: Actor, action: str, subject: str, why: str) -> None:
    audit_record(
        event_type=Event.STAFF_ACTION_REFUSED,
        actor=actor,
        details={"action": action, "subject": subject, "why": why},
    )


@dataclass(frozen=True)
class FactorsRemoved:
    """What a reset took away, for a message that names it ("the authenticator app and the recovery
    codes"), not a count of django-otp's device rows."""

    authenticator_app: bool
    passkeys: int
    recovery_codes: bool

    @property
    def devices(self) -> int:
        return int(self.authenticator_app) + self.passkeys + int(self.recovery_codes)


def second_factor_reset(*, username: str, actor: Actor, reason: str, by_user=None) -> FactorsRemoved:
    """Remove every device of ``username`` (app, passkeys, recovery codes): at the next sign-in the person
    enrols again. ``by_user`` is the staff member acting (``None`` for the management command); acting
    on oneself is refused and that refusal is audited."""
    user = get_user_model()._default_manager.get(**{get_user_model().USERNAME_FIELD: username})
    if by_user is not None and by_user.pk == user.pk:
        staff_action_refused(actor=actor, action="second_factor_reset", subject=username, why="same_person")
        raise SamePerson
    with transaction.atomic():
        removed = FactorsRemoved(
            # An app being set up but never confirmed was no factor: not named, still removed.
            authenticator_app=TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            passkeys=WebAuthnCredential.objects.filter(user=user).count(),
            recovery_codes=StaticToken.objects.filter(device__user=user).exists(),
        )
        for model in (TOTPDevice, StaticDevice, WebAuthnCredential):
            model.objects.filter(user=user).delete()
        audit_record(
            event_type=Event.SECOND_FACTOR_RESET,
            actor=actor,
            details={
                "subject": username,
                "devices_removed": removed.devices,
                "authenticator_app": removed.authenticator_app,
                "passkeys": removed.passkeys,
                "recovery_codes": removed.recovery_codes,
                "reason": reason,
            },
        )
    return removed


def second_factor_last_reset(*, user) -> AuditEvent | None:
    """The reset that left this person without a factor (if any since their last enrolment): their
    enrolment page says who did it and when."""
    username = user.get_username()
    reset = (
        AuditEvent.objects.filter(event_type=Event.SECOND_FACTOR_RESET, details__subject=username)
        .order_by("-occurred_at", "-id")
        .first()
    )
    if reset is None:
        return None
    enrolled_since = AuditEvent.objects.filter(
        event_type=Event.SECOND_FACTOR_ENROLLED,
        actor_type=AuditEvent.ActorType.STAFF,
        actor=username,
        occurred_at__gte=reset.occurred_at,
    ).exists()
    return None if enrolled_since else reset
