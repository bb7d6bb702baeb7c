"""Partners' public keys for ``private_key_jwt`` (SPEC §4, §4.1): registering and retiring them."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import Actor, audit_record
from clients.keys import PublicKey, UnacceptableKey, public_key_parse
from clients.models import ClientKey
from communities.models import Community
from notifications import events
from notifications.services import notify

Event = AuditEvent.EventType
THUMBPRINT_CONSTRAINT = "client_key_active_thumbprint_unique"  # clients.models.ClientKey.Meta
MAX_ACTIVE_KEYS = 5  # rotation needs two; five leaves room, and bounds the work of a kid-less assertion


def active_keys(community: Community) -> QuerySet[ClientKey]:
    return ClientKey.objects.filter(community=community, retired_at__isnull=True)


def client_key_refuse_if_held_elsewhere(*, community: Community, thumbprint: str) -> None:
    """One key identifies one partner: whoever holds the private key of a key active for two communities
    could get tokens as either. Same key, same RFC 7638 thumbprint, whatever kid it was given. Also asked
    by the console's first step, so the refusal comes before the fingerprint is compared. The database
    holds the rule too (``THUMBPRINT_CONSTRAINT``), for registrations at the same moment."""
    elsewhere = (
        ClientKey.objects.filter(thumbprint=thumbprint, retired_at__isnull=True)
        .exclude(community=community)
        .select_related("community")
        .first()
    )
    if elsewhere is not None:
        raise ValidationError(
            _(
                "This key is already registered for %(other)s. A key identifies one "
                "partner: whoever holds its private key could act for both communities. Ask the partner "
                "for a key of its own."
            )
            % {"other": elsewhere.community}
        )


@transaction.atomic
def client_key_add(*, community: Community, key_text: str, actor: Actor) -> ClientKey:
    """Register a partner's public key (PEM or JWK) for ``private_key_jwt``; private keys are refused."""
    try:
        parsed = public_key_parse(key_text)
    except UnacceptableKey as error:
        raise ValidationError(str(error)) from error
    Community.objects.select_for_update().filter(pk=community.pk).first()  # one change at a time
    active = active_keys(community)
    if active.filter(thumbprint=parsed.thumbprint).exists():
        raise ValidationError(_("This key is already registered for the community."))
    if active.filter(kid=parsed.kid).exists():
        raise ValidationError(
            _("The community already has an active key with kid %(kid)r.") % {"kid": parsed.kid}
        )
    client_key_refuse_if_held_elsewhere(community=community, thumbprint=parsed.thumbprint)
    if active.count() >= MAX_ACTIVE_KEYS:
        raise ValidationError(
            _("At most %(count)d active keys: retire one first.") % {"count": MAX_ACTIVE_KEYS}
        )
    key = _client_key_insert(community=community, parsed=parsed)
    audit_record(
        event_type=Event.CLIENT_KEY_ADDED,
        actor=actor,
        community=community,
        details={"kid": parsed.kid, "thumbprint": parsed.thumbprint, "key_type": parsed.key_type},
    )
    notify(
        community=community, event=events.KEY_ADDED, data={"kid": parsed.kid, "thumbprint": parsed.thumbprint}
    )
    return key


def _client_key_insert(*, community: Community, parsed: PublicKey) -> ClientKey:
    """The row, in a savepoint. Each registration locks only its own community, so two registering one
    key for two communities at once both pass ``client_key_refuse_if_held_elsewhere``; the database lets
    one in, and the other gets the same refusal (naming the winner, now committed), not a 500."""
    try:
        with transaction.atomic():
            return ClientKey.objects.create(
                community=community,
                kid=parsed.kid,
                thumbprint=parsed.thumbprint,
                key_type=parsed.key_type,
                public_jwk=parsed.public_jwk,
            )
    except IntegrityError as error:
        if not _is_thumbprint_taken(error):
            raise
        client_key_refuse_if_held_elsewhere(community=community, thumbprint=parsed.thumbprint)
        # Retired again in the meantime: nothing to name, and trying again would succeed.
        raise ValidationError(
            _("This key was being registered for another community at the same moment: try again.")
        ) from error


def _is_thumbprint_taken(error: IntegrityError) -> bool:
    """PostgreSQL names the violated constraint (psycopg's ``diag``); SQLite names only its columns."""
    diagnostic = getattr(error.__cause__, "diag", None)
    if diagnostic is not None:
        return bool(diagnostic.constraint_name == THUMBPRINT_CONSTRAINT)
    return str(error) == f"UNIQUE constraint failed: {ClientKey._meta.db_table}.thumbprint"


@transaction.atomic
def client_key_retire(*, community: Community, kid: str, actor: Actor, reason: str = "") -> ClientKey:
    """Retire an active key at once: assertions signed with it are refused from the next request."""
    # The community row first, as every cut-off (authentication.client_still_entitled).
    Community.objects.select_for_update().filter(pk=community.pk).first()
    key: ClientKey | None = active_keys(community).select_for_update().filter(kid=kid).first()
    if key is None:
        raise ValidationError(_("The community has no active key with kid %(kid)r.") % {"kid": kid})
    key.retired_at = timezone.now()
    key.save(update_fields=["retired_at"])
    audit_record(
        event_type=Event.CLIENT_KEY_RETIRED,
        actor=actor,
        community=community,
        details={
            "kid": key.kid,
            "thumbprint": key.thumbprint,
            "reason": reason,
            "active_keys_left": active_keys(community).count(),
        },
    )
    notify(community=community, event=events.KEY_RETIRED, data={"kid": key.kid, "thumbprint": key.thumbprint})
    return key
