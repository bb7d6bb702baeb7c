"""What staff must see before a secret is handed over or a key registered: the community's
client-authentication policy in a line, the warning when that policy refuses client secrets or keys, and a
pending revocation request."""

from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from clients.policy import METHOD_CLIENT_SECRET, METHOD_PRIVATE_KEY_JWT
from clients.services import client_auth_policy_get, communities_keys_outlast_secrets, keys_outlasting_secrets
from communities.models import Community
from console.forms import console_time_zoned
from console.humane import community_filter_url
from tokens.models import RevocationRequest

_METHOD_NAMES = {
    METHOD_CLIENT_SECRET: gettext_lazy("Client secret (client_secret)"),
    METHOD_PRIVATE_KEY_JWT: gettext_lazy("Signature with the partner's key (private_key_jwt)"),
}


def policy_line(community) -> str:
    """ "Autenticação aceita pela política: Segredo de cliente (client_secret)." """
    methods = client_auth_policy_get(community=community).methods
    return _("Client authentication the policy accepts: %(methods)s.") % {
        "methods": ", ".join(str(_METHOD_NAMES.get(method, method)) for method in methods) or "—"
    }


def allowlist_line(community) -> str:
    """ "Endereços de origem permitidos: 203.0.113.0/24 (só para pedir tokens)." or "from anywhere"."""
    policy = client_auth_policy_get(community=community)
    if not policy.allowed_ips:
        return _("Source IPs: any address (no allowlist).")
    where = (
        _("for token requests and API calls")
        if policy.allowlist_applies_to_api
        else _("for token requests only")
    )
    return _("Allowed source IPs: %(networks)s (%(where)s).") % {
        "networks": ", ".join(policy.allowed_ips),
        "where": where,
    }


def secrets_refused_warning(community) -> str:
    """Empty when the policy accepts client secrets; else why the new secret will not work yet."""
    if client_auth_policy_get(community=community).allow_client_secret:
        return ""
    return _(
        "The community's policy does not accept client secrets: the new secret gets a 401 (access "
        "refused) until the policy allows secrets. %(policy)s"
    ) % {"policy": policy_line(community)}


def keys_refused_warning(community) -> str:
    """Empty when the policy accepts signed keys; else why a key registered now will not work yet."""
    if client_auth_policy_get(community=community).allow_private_key_jwt:
        return ""
    return _(
        "The community's policy does not accept keys (private_key_jwt): the key can be registered, but "
        "the partner gets a 401 (access refused) when it signs with it, until the policy allows keys. "
        "%(policy)s"
    ) % {"policy": policy_line(community)}


def pending_request(community) -> RevocationRequest | None:
    return (
        RevocationRequest.objects.filter(community=community, status=RevocationRequest.Status.PENDING)
        .order_by("created_at")
        .first()
    )


def pending_request_for(community_id) -> RevocationRequest | None:
    """The pending request of the community a form names by id (as typed or sent: maybe not a number)."""
    try:
        community_id = int(community_id)
    except (TypeError, ValueError):
        return None
    return (
        RevocationRequest.objects.filter(community_id=community_id, status=RevocationRequest.Status.PENDING)
        .order_by("created_at")
        .first()
    )


def pending_request_notice(revocation: RevocationRequest) -> str:
    """On the form that opens a request: one is pending already, with a link to it."""
    return format_html(
        '{} <a href="{}">{}</a>',
        _(
            "%(community)s already has a pending revocation request, opened %(moment)s: its secrets were "
            "suspended and its tokens revoked then."
        )
        % {"community": revocation.community.client_id, "moment": console_time_zoned(revocation.created_at)},
        reverse("admin:tokens_revocationrequest_change", args=[revocation.pk]),
        _("See request #%(id)s") % {"id": revocation.pk},
    )


def pending_request_banner(revocation: RevocationRequest) -> str:
    """A link to the pending request: completing it is the way to hand over a secret after a report."""
    return format_html(
        '{} <a href="{}">{}</a>',
        _(
            "This community has a pending revocation request, opened %(moment)s: its secrets were "
            "suspended then."
        )
        % {"moment": console_time_zoned(revocation.created_at)},
        reverse("admin:tokens_revocationrequest_change", args=[revocation.pk]),
        _("Complete request #%(id)s instead") % {"id": revocation.pk},
    )


def keys_still_work(count: int) -> str:
    """A revocation request stops secrets only (SPEC §2.7): the keys the policy admits keep working."""
    return ngettext(
        "A revocation request suspends secrets only: the community's active key still works, so the "
        "partner keeps getting tokens with it.",
        "A revocation request suspends secrets only: the community's %(count)s active keys still work, so "
        "the partner keeps getting tokens with them.",
        count,
    ) % {"count": count}


def keys_still_work_note(community) -> str:
    """Empty when no key outlasts the secrets; else that the keys still work, and a link to retire one
    whose private half leaked."""
    count = keys_outlasting_secrets(community=community)
    if not count:
        return ""
    return format_html(
        '{} {} <a href="{}" id="community-keys">{}</a>.',
        keys_still_work(count),
        _("If the partner's private key leaked, the security group must retire the key:"),
        community_filter_url("clients_clientkey", community),
        _("keys of %(client_id)s") % {"client_id": community.client_id},
    )


def keys_still_work_note_for(community_id) -> str:
    """``keys_still_work_note`` for the community a form names by id (as sent: maybe not a number)."""
    try:
        community = Community.objects.filter(pk=int(community_id)).first()
    except (TypeError, ValueError):
        community = None
    return keys_still_work_note(community) if community is not None else ""


def keys_elsewhere_note() -> str:
    """Before a community is chosen: the communities whose keys would outlast their secrets, if any."""
    names = communities_keys_outlast_secrets()
    if not names:
        return ""
    return _(
        "Exception: in %(communities)s an active key that the policy accepts keeps working, because a "
        "revocation request suspends secrets only."
    ) % {"communities": ", ".join(names)}
