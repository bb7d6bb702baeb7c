"""The events partners are told about (SPEC §2.10), and what each one says, in the partner's language.

Every text is a gettext string: the e-mail renders it under the recipient's language (pt-BR or English).
No text ever holds a secret or a token; the data carries identifiers, hints and times only.
"""

from django.utils.translation import gettext_lazy as _

SECRET_LEAKED = "secret.leaked"
SECRETS_SUSPENDED = "secrets.suspended"
SECRET_ROTATED = "secret.rotated"
SECRET_EXPIRING = "secret.expiring"
KEY_ADDED = "key.added"
KEY_RETIRED = "key.retired"
POLICY_CHANGED = "policy.changed"
REVOCATION_REQUEST_COMPLETED = "revocation_request.completed"
COMMUNITY_DEACTIVATED = "community.deactivated"
COMMUNITY_REACTIVATED = "community.reactivated"

#: event → (subject, what happened, what to do)
TEXTS = {
    SECRET_LEAKED: (
        _("A client secret of yours was found leaked"),
        _(
            "A secret scanner reported one of your client secrets in a public place. We suspended it and "
            "revoked every access token of your community at once."
        ),
        _(
            "Remove the secret from where it was published, find out how it got there, and wait for "
            "Bfluence staff to hand you a new secret through a trusted channel."
        ),
    ),
    SECRETS_SUSPENDED: (
        _("Your client secrets were suspended"),
        _(
            "A compromise report suspended every current client secret of your community and revoked "
            "every access token."
        ),
        _("Bfluence staff will hand you a new secret through a trusted channel."),
    ),
    SECRET_ROTATED: (
        _("Your client secret was rotated"),
        _("A new client secret was issued for your community."),
        _(
            "Install the new secret, handed to you through a trusted channel, before the previous one "
            "stops (see previous_secret_valid_until)."
        ),
    ),
    SECRET_EXPIRING: (
        _("Your previous client secret stops within 24 hours"),
        _("The grace window of your previous client secret ends soon."),
        _("Make sure every server of yours uses the new secret before then."),
    ),
    KEY_ADDED: (
        _("A public key was registered for your community"),
        _("A public key was registered for private_key_jwt client authentication."),
        _("If you did not ask for it, tell Bfluence staff at once."),
    ),
    KEY_RETIRED: (
        _("A public key of your community was retired"),
        _("A public key registered for private_key_jwt was retired; assertions signed by it are refused."),
        _("Sign your assertions with another registered key."),
    ),
    POLICY_CHANGED: (
        _("Your client-authentication policy changed"),
        _("The methods, DPoP requirement or allowed addresses for your community changed."),
        _("Check that your servers authenticate as the new policy asks."),
    ),
    REVOCATION_REQUEST_COMPLETED: (
        _("Your revocation request was completed"),
        _("Bfluence staff completed your revocation request: a new client secret was issued."),
        _("Install the new secret, handed to you through a trusted channel."),
    ),
    COMMUNITY_DEACTIVATED: (
        _("Your community was deactivated"),
        _("Your community can no longer obtain or use access tokens."),
        _("Contact Bfluence staff if this is unexpected."),
    ),
    COMMUNITY_REACTIVATED: (
        _("Your community was reactivated"),
        _("Your community can obtain access tokens again."),
        _("No action is needed."),
    ),
}
EVENT_TYPES = tuple(TEXTS)

#: event → its name in staff screens (the console's "Evento" column and filter)
NAMES = {
    SECRET_LEAKED: _("secret found leaked"),
    SECRETS_SUSPENDED: _("secrets suspended"),
    SECRET_ROTATED: _("secret rotated"),
    SECRET_EXPIRING: _("previous secret about to stop"),
    KEY_ADDED: _("client public key registered"),
    KEY_RETIRED: _("client public key retired"),
    POLICY_CHANGED: _("client authentication policy changed"),
    REVOCATION_REQUEST_COMPLETED: _("revocation request handled"),
    COMMUNITY_DEACTIVATED: _("community deactivated"),
    COMMUNITY_REACTIVATED: _("community reactivated"),
}
