"""A community's security contacts: e-mail addresses with their language, and one webhook."""

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from notifications.models import Language, SecurityContacts
from notifications.webhooks import webhook_target

if TYPE_CHECKING:  # annotations only: communities sit above this app
    from communities.models import Community

MAX_EMAILS = 10


@dataclass(frozen=True)
class ContactsChange:
    contacts: SecurityContacts
    #: The new webhook signing secret, only when this change made one: shown once, never again.
    webhook_secret: str | None = field(default=None, repr=False)


def email_lines_parse(text: str) -> list[tuple[str, str]]:
    """Staff's list as typed, one ``address[:language]`` per line, as the pairs ``security_contacts_set``
    takes. Raises ``ValidationError`` with one message per wrong line, all of them at once, each naming
    its line number (blank lines count, as on the screen) and what is wrong there, so staff fix the list in
    one go."""
    lines = text.splitlines()
    _check_how_many(sum(1 for line in lines if line.strip()))  # first: it bounds the work below
    pairs: list[tuple[str, str]] = []
    wrong: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        address, _colon, language = line.strip().partition(":")
        try:
            entry = _email_entry_or_why_not(address, language)
        except ValueError as error:
            wrong.append(_("Line %(line)s: %(problem)s") % {"line": number, "problem": error})
            continue
        pairs.append((entry["address"], entry["language"]))
    if wrong:
        raise ValidationError(wrong)
    return pairs


def _clean_emails(emails: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The pairs as stored; ``ValidationError`` with one message per wrong pair, all at once."""
    _check_how_many(len(emails))
    cleaned: list[dict[str, str]] = []
    wrong: list[str] = []
    for address, language in emails:
        try:
            cleaned.append(_email_entry_or_why_not(address, language))
        except ValueError as error:
            wrong.append(str(error))
    if wrong:
        raise ValidationError(wrong)
    return cleaned


def _email_entry_or_why_not(address: str, language: str) -> dict[str, str]:
    """One contact as stored, or a ``ValueError`` saying what is wrong with it in the staff's words.
    Our own message rather than Django's, whose pt-BR says "email" where the console says "e-mail"."""
    address, language = address.strip(), (language or Language.PT_BR).strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ValueError(
            _("“%(address)s” is not a valid e-mail address.") % {"address": address[:80]}
        ) from None
    if language not in Language.values:
        raise ValueError(
            _("“%(address)s” has an unknown language, “%(language)s”: use pt-br or en.")
            % {"address": address[:80], "language": language[:10]}
        )
    return {"address": address, "language": language}


def _check_how_many(count: int) -> None:
    if count > MAX_EMAILS:
        raise ValidationError(
            ngettext("At most %(count)s e-mail address.", "At most %(count)s e-mail addresses.", MAX_EMAILS)
            % {"count": MAX_EMAILS}
        )


def _new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def security_contacts_set(
    *,
    community: "Community",
    actor: Actor,
    emails: list[tuple[str, str]] | None = None,
    webhook_url: str | None = None,
    new_webhook_secret: bool = False,
) -> ContactsChange:
    """Set the e-mail addresses (``None``: keep them) and the webhook (``None``: keep it, ``""``: none).

    A new webhook URL gets a new signing secret; so does ``new_webhook_secret``. The URL must be HTTPS to
    a public address (notifications.webhooks), checked now and again at each delivery.
    """
    contacts, _created = SecurityContacts.objects.select_for_update().get_or_create(community=community)
    changed = []
    if emails is not None:
        contacts.emails = _clean_emails(emails)
        changed.append("emails")
    secret = None
    if webhook_url is not None and webhook_url != contacts.webhook_url:
        if webhook_url:
            if len(webhook_url) > 500:
                raise ValidationError(_("The webhook URL is too long."))
            webhook_target(webhook_url)
        contacts.webhook_url = webhook_url
        new_webhook_secret = bool(webhook_url)
        if not webhook_url:
            contacts.webhook_secret = contacts.webhook_secret_hint = ""
        changed.append("webhook_url")
    if new_webhook_secret and contacts.webhook_url:
        secret = _new_webhook_secret()
        contacts.webhook_secret = secret
        contacts.webhook_secret_hint = secret[:10] + "…"
        changed.append("webhook_secret")
    contacts.save()
    audit_record(
        event_type=AuditEvent.EventType.SECURITY_CONTACTS_SET,
        actor=actor,
        community=community,
        details={
            "changed": changed,
            "emails": [entry["address"] for entry in contacts.emails],
            "webhook_url": contacts.webhook_url,
        },
    )
    return ContactsChange(contacts=contacts, webhook_secret=secret)
