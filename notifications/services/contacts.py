"""A community's security contacts: e-mail addresses with their language, and one webhook."""

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

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


def _clean_emails(emails: list[tuple[str, str]]) -> list[dict[str, str]]:
    if len(emails) > MAX_EMAILS:
        raise ValidationError(_("At most %(count)d e-mail addresses.") % {"count": MAX_EMAILS})
    cleaned = []
    for address, language in emails:
        address, language = address.strip(), (language or Language.PT_BR).strip().lower()
        validate_email(address)
        if language not in Language.values:
            raise ValidationError(
                _("Unknown language %(language)s: use pt-br or en.") % {"language": language[:10]}
            )
        cleaned.append({"address": address, "language": language})
    return cleaned


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
