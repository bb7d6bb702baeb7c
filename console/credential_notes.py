"""What staff must see before a secret is handed over or a key registered: the community's
client-authentication policy in a line, the warning when that policy refuses client secrets or keys, why
the community has no working way in, the keys a revocation request leaves working, and a pending
revocation request."""

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy

from clients.models import ClientAuthPolicy, ClientSecret
from clients.policy import METHOD_CLIENT_SECRET, METHOD_PRIVATE_KEY_JWT
from clients.services import (
    ClosedWay,
    client_auth_policy_get,
    closed_ways,
    communities_a_new_secret_cannot_reopen,
    communities_keys_outlast_secrets,
    keys_outlasting_secrets,
    keys_that_outlast_secrets,
)
from communities.models import Community
from console.forms import console_time_zoned
from console.humane import community_filter_url, words_list
from console.who_can_act import (
    MAY,
    may_complete_request,
    may_reactivate,
    may_set_policy,
    opener_cannot_complete_note,
    request_opener_username,
    security_only_line,
)
from tokens.models import RevocationRequest
from tokens.services import secrets_named_on_opening

_METHOD_NAMES = {
    METHOD_CLIENT_SECRET: gettext_lazy("Client secret (client_secret)"),
    METHOD_PRIVATE_KEY_JWT: gettext_lazy("Signature with the partner's key (private_key_jwt)"),
}


_DPOP_MODES = {
    "optional": gettext_lazy("DPoP optional: a token is tied to the partner's key when it sends a proof."),
    "required": gettext_lazy(
        "DPoP required: every token must be tied to the partner's key, and a token request without a "
        "DPoP proof gets a 401 (access refused)."
    ),
}


def policy_line(community) -> str:
    """ "Autenticação aceita pela política: Segredo de cliente (client_secret)." and, unless it is off,
    what DPoP asks of the partner (with DPoP required a proof-less request is refused)."""
    policy = client_auth_policy_get(community=community)
    line = _("Client authentication the policy accepts: %(methods)s.") % {
        "methods": ", ".join(str(_METHOD_NAMES.get(method, method)) for method in policy.methods) or "—"
    }
    dpop = _DPOP_MODES.get(policy.dpop)
    return f"{line} {dpop}" if dpop else line


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


def request_link(request_id: int, label: str = "") -> str:
    """A link to a revocation request's page: "Ver pedido #3" unless ``label`` says otherwise."""
    return format_html(
        '<a href="{}" class="revocation-request">{}</a>',
        reverse("admin:tokens_revocationrequest_change", args=[request_id]),
        label or _("See request #%(id)s") % {"id": request_id},
    )


def pending_request_line(revocation: RevocationRequest, lead: str, label: str = "") -> str:
    """Every banner about a pending request: what it means where it is shown (``lead``), then the link."""
    return format_html("{} {}", lead, request_link(revocation.pk, label))


def secrets_suspended_line(community) -> str:
    """Empty unless a pending revocation request left the community no working secret: then that every
    secret is suspended, and until when, at the top of its page (an active community whose partner gets
    a 401 on every token request made with a secret). Empty too when no way in is left at all: then
    ``no_token_banner`` names the request, and two banners would say the same."""
    revocation = pending_request(community)
    if revocation is None:
        return ""
    now = timezone.now()
    working = Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    if ClientSecret.objects.filter(working, community=community).exists():
        return ""
    if ClosedWay.NO_VALID_SECRET in closed_ways(community=community):
        return ""  # the no-token banner above says it, with the same link
    moment = {"moment": console_time_zoned(revocation.created_at)}
    still_refused = new_secret_still_refused_note(community)
    if still_refused:  # completing the request is not enough: no "until" it is completed
        suspended = (
            _(
                "Every secret is suspended: a revocation request is pending since %(moment)s. A token request "
                "made with a secret gets a 401."
            )
            % moment
        )
        return pending_request_line(revocation, f"{suspended} {still_refused}")
    suspended = (
        _(
            "Every secret is suspended: a revocation request is pending since %(moment)s. A token request "
            "made with a secret gets a 401 until the request is completed."
        )
        % moment
    )
    return pending_request_line(revocation, suspended)


def pending_request_cell(request_id: int, *, secrets_left: bool) -> str:
    """In the communities list, above the valid secrets: a pending request, linked. With no valid secret
    left, that every secret is suspended (the partner gets a 401 with any of them)."""
    state = (
        _("revocation request pending:")
        if secrets_left
        else _("every secret suspended — revocation request pending:")
    )
    return format_html('<span class="pending-request">{} {}</span>', state, request_link(request_id))


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
    return pending_request_line(
        revocation,
        _(
            "%(community)s already has a pending revocation request, opened %(moment)s: its secrets were "
            "suspended and its tokens revoked then."
        )
        % {"community": revocation.community.client_id, "moment": console_time_zoned(revocation.created_at)},
    )


def pending_request_banner(revocation: RevocationRequest) -> str:
    """A link to the pending request: completing it is the way to hand over a secret after a report."""
    return pending_request_line(
        revocation,
        _(
            "This community has a pending revocation request, opened %(moment)s: its secrets were "
            "suspended then."
        )
        % {"moment": console_time_zoned(revocation.created_at)},
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


def keys_retire_separately() -> str:
    """A revocation request leaves keys alone: a leaked one is retired on its own (in plain text)."""
    return _(
        "The request retires no key: if the partner's private key leaked, retiring it is a separate action "
        "(security group), in the community's list of keys."
    )


def _keys_link(community, label: str = "") -> str:
    """The community's keys, in the list of keys filtered to it."""
    return format_html(
        '<a href="{}" class="community-keys">{}</a>',
        community_filter_url("clients_clientkey", community),
        label or _("keys of %(client_id)s") % {"client_id": community.client_id},
    )


def keys_still_work_note(community) -> str:
    """Empty when no key outlasts the secrets; else that the keys still work, that a leaked one must be
    retired separately, and a link to the community's keys."""
    count = keys_outlasting_secrets(community=community)
    if not count:
        return ""
    return format_html(
        "{} {} {}.",
        keys_still_work(count),
        _(
            "The request retires no key: if the partner's private key leaked, retiring it is a separate "
            "action (security group):"
        ),
        _keys_link(community),
    )


def request_keys_still_work_note(revocation: RevocationRequest) -> str:
    """On a revocation request's own page (support reads it before answering the partner): the keys that
    still get the partner tokens, by kid, so nobody tells the partner it is cut off. Empty if none."""
    community = revocation.community
    kids = [key.kid for key in keys_that_outlast_secrets(community=community)]
    if not kids:
        return ""
    return format_html(
        "{} {} {}.",
        ngettext(
            "The partner can still get tokens with its key %(kids)s (private_key_jwt): the request "
            "suspended its secrets only, so it is not cut off.",
            "The partner can still get tokens with its keys %(kids)s (private_key_jwt): the request "
            "suspended its secrets only, so it is not cut off.",
            len(kids),
        )
        % {"kids": words_list(kids)},
        _(
            "The request retires no key: if the partner's private key leaked, retiring it is a separate "
            "action (security group):"
        ),
        _keys_link(community),
    )


def community_named(community_id) -> Community | None:
    """The community a form names by id (as sent: maybe not a number, maybe none)."""
    try:
        return Community.objects.filter(pk=int(community_id)).first()
    except (TypeError, ValueError):
        return None


def keys_still_work_note_for(community_id) -> str:
    """``keys_still_work_note`` for the community a form names by id (as sent: maybe not a number)."""
    community = community_named(community_id)
    return keys_still_work_note(community) if community is not None else ""


# What a new secret needs besides being handed over: the causes of ``closed_ways`` that completing a
# revocation request (a new secret) does not lift.
_NEW_SECRET_ALSO_NEEDS = {
    ClosedWay.SECRETS_REFUSED: gettext_lazy(
        "the policy accepts client secrets again (a member of the security group changes the "
        "client-authentication policy)"
    ),
    # Its own context: said after "até que" ("a comunidade seja reativada"), where the rotate page's
    # "the community is reactivated" comes after "se" ("a comunidade for reativada").
    ClosedWay.COMMUNITY_INACTIVE: pgettext_lazy("after 'until'", "the community is reactivated"),
}


def new_secret_still_refused_note(community) -> str:
    """Empty when a new client secret would get the partner tokens; else what else it needs. The request
    form, the "opened" message and the community page say that completing a revocation request gives the
    partner access again: not under a keys-only policy, nor for a deactivated community (the completion
    page says so too). Computed as ``closed_ways`` would for the policy's secrets alone."""
    accepted = client_auth_policy_get(community=community).methods
    secrets_only = [METHOD_CLIENT_SECRET] if METHOD_CLIENT_SECRET in accepted else []
    closed = closed_ways(community=community, methods=secrets_only)
    needed = [str(_NEW_SECRET_ALSO_NEEDS[way]) for way in _NEW_SECRET_ALSO_NEEDS if way in closed]
    if not needed:
        return ""
    return _(
        "Even once the request is completed, the new secret it hands over gets a 401 (access refused) until "
        "%(needed)s."
    ) % {"needed": words_list(needed)}


# How many of them the red box names; the dropdown marks every one (``new_secret_not_enough_marks``).
NOT_ENOUGH_NAMED = 3


def communities_a_new_secret_is_not_enough_for() -> list[Community]:
    """Every community where completing a revocation request gives no access back, by client_id: one query
    for both the red box's note and the dropdown's marks."""
    communities, _total = communities_a_new_secret_cannot_reopen(limit=None)
    return communities


def new_secret_not_enough_marks(communities: list[Community]) -> dict[int, str]:
    """Community id → what the request form's dropdown adds to its option: "desativada: um novo segredo
    não basta". A reviewer who picks one the red box cut under "e mais 2" is told before saving."""
    return {
        community.pk: _("%(why)s: a new secret is not enough")
        % {"why": _why_a_new_secret_is_not_enough(community)}
        for community in communities
    }


def new_secret_not_enough_elsewhere_note(communities: list[Community]) -> str:
    """Before a community is chosen: the communities where completing the request gives no access back
    (the first few by client_id, each linked, with why, and how many more), so the form's "until it is
    completed" line can speak of the others only; and that the dropdown marks every one of them, so "and 2
    more" hides none. Empty if none."""
    total = len(communities)
    if not communities:
        return ""
    communities = communities[:NOT_ENOUGH_NAMED]
    links = format_html_join(
        ", ",
        '<a href="{}">{}</a>',
        (
            (
                reverse("admin:communities_community_change", args=[community.pk]),
                _("%(client_id)s (%(why)s)")
                % {"client_id": community.client_id, "why": _why_a_new_secret_is_not_enough(community)},
            )
            for community in communities
        ),
    )
    more = total - len(communities)
    tail = ngettext("and %(count)s more", "and %(count)s more", more) % {"count": more} if more else ""
    lead = ngettext(
        "In this community completing the request is not enough: the new secret gets a 401 (access "
        "refused) too:",
        "In these communities completing the request is not enough: the new secret gets a 401 (access "
        "refused) too:",
        total,
    )
    marked = ngettext(
        "It is marked in the Community list below too.",
        "They are all marked in the Community list below.",
        total,
    )
    return format_html("{} {}{}{}. {}", lead, links, " " if tail else "", tail, marked)


def _why_a_new_secret_is_not_enough(community) -> str:
    reasons = []
    if not community.is_active:
        reasons.append(pgettext("community", "deactivated"))
    if community.secrets_refused:
        reasons.append(_("the policy does not accept secrets"))
    return words_list(reasons)


def keys_elsewhere_note() -> str:
    """Before a community is chosen: the communities whose keys would outlast their secrets, each with
    how many keys and a link to them, and that a leaked key must be retired separately. Empty if none."""
    communities = communities_keys_outlast_secrets()
    if not communities:
        return ""
    links = format_html_join(
        ", ",
        "{}",
        (
            (
                _keys_link(
                    community,
                    ngettext(
                        "%(client_id)s (%(count)s active key)",
                        "%(client_id)s (%(count)s active keys)",
                        working,
                    )
                    % {"client_id": community.client_id, "count": working},
                ),
            )
            for community, working in communities
        ),
    )
    return format_html("{} {}. {}", _keys_elsewhere_lead(communities), links, keys_retire_separately())


def _keys_elsewhere_lead(communities: list[tuple[Community, int]]) -> str:
    """Said of the listed communities, never "this community": the server does not know which one the
    staff member will pick before the form is sent. A lone one is named ("the community below" would
    read as whichever one is picked), with its keys counted."""
    if len(communities) == 1:
        community, working = communities[0]
        return ngettext(
            "Exception: a revocation request suspends secrets only. If you choose %(client_id)s, its active "
            "key that the policy accepts keeps getting the partner tokens:",
            "Exception: a revocation request suspends secrets only. If you choose %(client_id)s, its "
            "%(count)s active keys that the policy accepts keep getting the partner tokens:",
            working,
        ) % {"client_id": community.client_id, "count": working}
    return _(
        "Exception: a revocation request suspends secrets only. If you choose one of these communities, "
        "its active keys that the policy accepts keep getting the partner tokens:"
    )


def keys_also_work_line(community) -> str:
    """On the page that shows a new client secret: the keys that get the partner tokens as well, with a
    link; empty when none does (the policy refuses keys, or none is active)."""
    count = keys_outlasting_secrets(community=community)
    if not count:
        return ""
    return format_html(
        "{} {}.",
        ngettext(
            "The community's registered key also still works (private_key_jwt):",
            "The community's %(count)s registered keys also still work (private_key_jwt):",
            count,
        )
        % {"count": count},
        _keys_link(community),
    )


def new_secret_policy_line(community) -> str:
    """On the page that shows a new client secret: what else works. When the policy refuses secrets the
    new one gets a 401 until security turns secrets back on (link to the policy), and the keys keep
    working; otherwise the keys that also get the partner tokens (``keys_also_work_line``)."""
    if client_auth_policy_get(community=community).allow_client_secret:
        return keys_also_work_line(community)
    refused = format_html(
        '{} <a href="{}" class="community-policy">{}</a>.',
        _(
            "The community's policy does not accept client secrets: this secret gets a 401 (access refused) "
            "and works only if the security group turns secrets back on in the policy:"
        ),
        reverse("admin:clients_clientauthpolicy_set", args=[community.pk]),
        _("policy of %(client_id)s") % {"client_id": community.client_id},
    )
    keys = keys_outlasting_secrets(community=community)
    if not keys:
        return refused
    return format_html(
        "{} {} {}.",
        refused,
        ngettext(
            "The community's registered key keeps working (private_key_jwt):",
            "The community's %(count)s registered keys keep working (private_key_jwt):",
            keys,
        )
        % {"count": keys},
        _keys_link(community),
    )


def new_secret_dpop_line(community) -> str:
    """On the page that shows a new client secret: with DPoP required, the secret alone is not enough (a
    request without a proof gets a 401). Empty otherwise, and when the policy refuses secrets anyway
    (``new_secret_policy_line`` says so)."""
    if not _dpop_required_with_secrets(community):
        return ""
    return " ".join(
        [
            _(
                "The community's policy requires DPoP: a token request with this secret but without a DPoP "
                "proof gets a 401 (access refused)."
            ),
            _("The partner must send a DPoP proof with each token request and each API call."),
        ]
    )


def _dpop_required_with_secrets(community) -> bool:
    policy = client_auth_policy_get(community=community)
    return policy.dpop == ClientAuthPolicy.DPoP.REQUIRED and policy.allow_client_secret


def rotate_dpop_line(community) -> str:
    """On the rotate page, as the one-time page says it (``new_secret_dpop_line``): the new secret alone
    gets no token while the policy requires DPoP. Empty when it does not, or refuses secrets anyway."""
    if not _dpop_required_with_secrets(community):
        return ""
    return _(
        "The community's policy requires DPoP: with the new secret, the partner must send a DPoP proof "
        "with each token request and each API call; without one, it gets a 401 (access refused)."
    )


def new_secret_allowlist_line(community) -> str:
    """On the page that shows a new client secret: the addresses the allowlist accepts token requests
    from (anything else gets a 401), and whether API calls are held to them too, for whoever hands the
    secret over to tell the partner. Empty with no allowlist."""
    policy = client_auth_policy_get(community=community)
    if not policy.allowed_ips:
        return ""
    api = (
        _("API calls are accepted only from these addresses too.")
        if policy.allowlist_applies_to_api
        else _("API calls are not restricted.")
    )
    return " ".join(
        [
            _(
                "The community's IP allowlist: token requests with this secret are accepted only from "
                "%(networks)s; from any other address they get a 401 (access refused)."
            )
            % {"networks": ", ".join(policy.allowed_ips)},
            api,
        ]
    )


_CLOSED_WAYS = {
    ClosedWay.COMMUNITY_INACTIVE: gettext_lazy("the community is deactivated"),
    ClosedWay.SECRETS_REFUSED: gettext_lazy("the policy does not accept the partner's secret"),
    ClosedWay.NO_VALID_SECRET: gettext_lazy(
        "none of the partner's secrets is valid (a revocation request suspended them, or they ended)"
    ),
    ClosedWay.KEYS_REFUSED: gettext_lazy("the policy does not accept keys"),
    ClosedWay.NO_ACTIVE_KEY: gettext_lazy("the community has no active key"),
}


def no_way_in_causes(closed: list[ClosedWay]) -> str:
    """ "a política não aceita o segredo do parceiro e a comunidade não tem chave ativa" """
    return words_list([str(_CLOSED_WAYS[way]) for way in closed])


def no_way_in_until(closed: list[ClosedWay]) -> str:
    """What gives the community a way in again: reactivating it, if it is deactivated, and a working
    credential for a method the policy accepts, if none works."""
    missing = {way for way in closed if way.missing_credential}
    if ClosedWay.COMMUNITY_INACTIVE in closed:
        if not missing:
            return _("until the community is reactivated")
        if missing == {ClosedWay.NO_ACTIVE_KEY}:
            return _("until the community is reactivated and a key is registered")
        if missing == {ClosedWay.NO_VALID_SECRET}:
            return _("until the community is reactivated and a new secret is handed over")
        return _("until the community is reactivated and a key is registered or a new secret is handed over")
    if missing == {ClosedWay.NO_ACTIVE_KEY}:
        return _("until a key is registered")
    if missing == {ClosedWay.NO_VALID_SECRET}:
        return _("until a new secret is handed over")
    return _("until a key is registered or a new secret is handed over")


def no_way_in_note(community) -> str:
    """Empty when the community can authenticate under its policy; else why not, and until when: the
    causes come from ``clients.services.closed_ways``."""
    closed = closed_ways(community=community)
    if not closed:
        return ""
    return _(
        "The community has no working way to authenticate: %(causes)s. Its server gets a 401 (access "
        "refused) on every token request %(until)s."
    ) % {"causes": no_way_in_causes(closed), "until": no_way_in_until(closed)}


def secrets_suspended_by(revocation: RevocationRequest) -> list[ClientSecret]:
    """The secrets opening ``revocation`` suspended, newest first: its audit row names them (the request
    keeps only their count)."""
    return list(
        ClientSecret.objects.filter(
            pk__in=secrets_named_on_opening(revocation.community_id, [revocation.pk])
        ).order_by("-created_at")
    )


def secrets_held_suspended(community: Community) -> frozenset[int]:
    """The secrets a still pending request suspended. Once the request is completed they are simply
    ended: nothing can make them work again, and "suspended" would suggest something might."""
    pending = RevocationRequest.objects.filter(community=community, status=RevocationRequest.Status.PENDING)
    return frozenset(secrets_named_on_opening(community.pk, list(pending.values_list("pk", flat=True))))


def _reactivate_link(community) -> str:
    return format_html(
        '<a href="{}" class="community-reactivate">{}</a>',
        reverse("admin:communities_community_reactivate", args=[community.pk]),
        _("Reactivate %(client_id)s") % {"client_id": community.client_id},
    )


def _policy_link(community) -> str:
    return format_html(
        '<a href="{}" class="community-policy">{}</a>',
        reverse("admin:clients_clientauthpolicy_set", args=[community.pk]),
        _("policy of %(client_id)s") % {"client_id": community.client_id},
    )


def _fix_links(
    community, closed: list[ClosedWay], viewer, *, policy: bool, pending: RevocationRequest | None = None
) -> tuple[list[str], str]:
    """The banner's links to reactivation and the policy when the viewer may follow them; else, for those
    it may not, the line that says who can: reactivating, and what gives the partner a credential again
    when the viewer can do none of it."""
    links, security_only = [], []
    if ClosedWay.COMMUNITY_INACTIVE in closed:
        if may_reactivate(viewer):
            links.append(_reactivate_link(community))
        else:
            security_only.append("reactivate")
    if policy and may_set_policy(viewer):
        links.append(_policy_link(community))
    remedies = _credential_remedies(closed, pending)
    if remedies and not any(MAY[remedy](viewer) for remedy in remedies):
        security_only.append(remedies)
    return links, security_only_line(security_only, viewer=viewer)


def _credential_remedies(closed: list[ClosedWay], pending: RevocationRequest | None) -> tuple[str, ...]:
    """What gives the partner a way to authenticate again, any one of them, cause by cause: a suspended
    secret comes back by completing the pending request (it hands over a new secret), an ended one by a new
    secret, a missing key by registering one; a method the policy refuses by changing the policy (with a
    pending request that is only a side remark: its fix is completing the request)."""
    remedies: list[str] = []
    if ClosedWay.NO_VALID_SECRET in closed:
        remedies.append("complete_request" if pending is not None else "new_secret")
    if ClosedWay.NO_ACTIVE_KEY in closed:
        remedies.append("register_key")
    refused = ClosedWay.SECRETS_REFUSED in closed or ClosedWay.KEYS_REFUSED in closed
    if refused and pending is None:
        remedies.append("policy")
    return tuple(remedies)


def community_inactive_warning(community) -> str:
    """Empty for an active community; else, where a secret is rotated and where the new one is shown, that
    it cannot work yet: a deactivated community's every token request is refused (invalid_client)."""
    if community.is_active:
        return ""
    return format_html(
        "{} {}",
        _(
            "The community is deactivated: the new secret gets a 401 (access refused) on every token "
            "request until it is reactivated."
        ),
        _reactivate_link(community),
    )


def rotate_inactive_warning(community) -> str:
    """Empty for an active community; else, on the rotate page, the one place it says the community is
    deactivated: neither the new secret nor the old one gets a token until it is reactivated."""
    if community.is_active:
        return ""
    return format_html(
        "{} {}",
        _(
            "The community is deactivated: neither the new secret nor the old one gets a token; every token "
            "request gets a 401 (access refused) until it is reactivated."
        ),
        _reactivate_link(community),
    )


def no_token_banner(community, *, viewer) -> str:
    """At the top of the community page: empty when the partner can get a token; else why not (the causes
    of ``closed_ways``), until when, and the page that fixes each cause (reactivation, the keys, the
    policy; the pending revocation request when it suspended every secret). Pages the ``viewer`` may not
    open are not linked: the banner names who can instead."""
    closed = closed_ways(community=community)
    if not closed:
        return ""
    revocation = pending_request(community) if ClosedWay.NO_VALID_SECRET in closed else None
    if revocation is not None:
        return _no_token_for_pending_request(community, closed, revocation, viewer=viewer)
    said = _(
        "The partner cannot obtain any token: %(causes)s. Its server gets a 401 (access refused) on every "
        "token request %(until)s."
    ) % {"causes": no_way_in_causes(closed), "until": no_way_in_until(closed)}
    policy = ClosedWay.SECRETS_REFUSED in closed or ClosedWay.KEYS_REFUSED in closed
    links, security_only = _fix_links(community, closed, viewer, policy=policy)
    if ClosedWay.NO_ACTIVE_KEY in closed:
        links.append(_keys_link(community))  # support reads keys: this link is for everyone
    parts = [said, security_only, format_html_join(" · ", "{}", ((link,) for link in links))]
    return format_html_join(" ", "{}", ((part,) for part in parts if part))


def _no_token_for_pending_request(
    community, closed: list[ClosedWay], revocation: RevocationRequest, *, viewer
) -> str:
    """``no_token_banner`` when a pending revocation request suspended every secret: the fix is completing
    the request (it hands over a new secret), so the banner says so and links to it. A policy that refuses
    keys is only a side remark: turning keys on gives the partner nothing until it has a key registered."""
    causes = (
        [str(_CLOSED_WAYS[ClosedWay.COMMUNITY_INACTIVE])] if ClosedWay.COMMUNITY_INACTIVE in closed else []
    )
    causes.append(
        _("every secret is suspended by a revocation request pending since %(moment)s")
        % {"moment": console_time_zoned(revocation.created_at)}
    )
    no_key = ClosedWay.NO_ACTIVE_KEY in closed
    if no_key:
        causes.append(str(_CLOSED_WAYS[ClosedWay.NO_ACTIVE_KEY]))
    if ClosedWay.COMMUNITY_INACTIVE in closed:
        until = (
            _(
                "until the community is reactivated and the revocation request is completed or a key is registered"
            )
            if no_key
            else _("until the community is reactivated and the revocation request is completed")
        )
    else:
        until = (
            _("until the revocation request is completed or a key is registered")
            if no_key
            else _("until the revocation request is completed")
        )
    said = [
        _(
            "The partner cannot obtain any token: %(causes)s. Its server gets a 401 (access refused) on every "
            "token request %(until)s."
        )
        % {"causes": words_list(causes), "until": until},
        _("Completing the request creates a new secret to hand over to the partner."),
    ]
    if ClosedWay.KEYS_REFUSED in closed:
        # A plain cause, not "também": it says why registering a key would not help, not one more block.
        said.append(
            _(
                "The policy does not accept keys (private_key_jwt): registering one would not help, the "
                "partner needs the new secret."
            )
        )
    links, security_only = _fix_links(community, closed, viewer, policy=False, pending=revocation)
    # "Complete" would send support to a page with no button: it may only see the request (SPEC §5a),
    # and the member who opened it to the two-person rule's refusal: they are told who else completes it.
    opened_it = request_opener_username(revocation) == viewer.get_username()
    can_complete = may_complete_request(viewer) and not opened_it
    if opened_it and may_complete_request(viewer):
        said.append(opener_cannot_complete_note(viewer))
    link_label = (_("Complete request #%(id)s") if can_complete else _("See request #%(id)s")) % {
        "id": revocation.pk
    }
    links.append(request_link(revocation.pk, link_label))
    if no_key:
        links.append(_keys_link(community))
    if security_only:
        said.append(security_only)
    return format_html(
        "{} {}",
        " ".join(str(part) for part in said),
        format_html_join(" · ", "{}", ((link,) for link in links)),
    )
