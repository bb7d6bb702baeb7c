"""Who can act when the reader cannot: the security members by name (never the one the two-person rule
refuses), or a superuser when nobody is left. Said where a link would end on a refusal, and on a
pending revocation request's page."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import AuditEvent
from console.humane import words_either, words_list
from console.second_factor import is_security_member, security_members
from tokens.models import RevocationRequest


def may_reactivate(user) -> bool:
    """The permission the reactivate page asks for (``communities.deactivate_community``)."""
    return user.has_perm("communities.deactivate_community")


def may_set_policy(user) -> bool:
    """The permissions the page that sets a community's policy asks for."""
    return user.has_perm("clients.change_clientauthpolicy") and user.has_perm("clients.add_clientauthpolicy")


def may_register_key(user) -> bool:
    return user.has_perm("clients.add_clientkey")


def may_rotate_secret(user) -> bool:
    return user.has_perm("communities.rotate_secret")


def may_complete_request(user) -> bool:
    return user.has_perm("tokens.handle_revocationrequest")


_SECURITY_ONLY = {
    "reactivate": gettext_lazy("reactivate the community"),
    "policy": gettext_lazy("change the community's policy"),
    "register_key": gettext_lazy("register a key"),
    "new_secret": gettext_lazy("create a new secret"),
    "complete_request": gettext_lazy("complete the revocation request"),
}

MAY = {
    "reactivate": may_reactivate,
    "policy": may_set_policy,
    "register_key": may_register_key,
    "new_secret": may_rotate_secret,
    "complete_request": may_complete_request,
}


def reactivated_by_line() -> str:
    """On the deactivate page: who can bring the community back, by name, as every page that sends staff
    to the security group says (the viewer included: they may reactivate it themselves)."""
    members = security_members()
    if not members:
        return _(
            "It gets no new tokens until it is reactivated, and the security group, which can reactivate it, "
            "has no active member: a console administrator (superuser) can."
        )
    return _("It gets no new tokens until someone in the security group reactivates it: %(names)s.") % {
        "names": words_list(members)
    }


def security_only_line(actions: list[str | tuple[str, ...]], *, viewer) -> str:
    """Said instead of links the viewer's role cannot follow (they end on a refusal): who can, by name,
    or a superuser when the security group has no active member. A tuple is alternatives, any one of
    which gives the partner a way in again ("register a key or change the policy")."""
    if not actions:
        return ""
    what = words_list(
        [
            words_either([str(_SECURITY_ONLY[one]) for one in action])
            if isinstance(action, tuple)
            else str(_SECURITY_ONLY[action])
            for action in actions
        ]
    )
    members = security_members(excluding=viewer)
    if not members:
        return _(
            "Only the security group can %(actions)s, but it has no active member: ask a console "
            "administrator (superuser)."
        ) % {"actions": what}
    return _("Only the security group can %(actions)s: %(names)s.") % {
        "actions": what,
        "names": words_list(members),
    }


def request_opener_username(revocation: RevocationRequest) -> str | None:
    """Who opened ``revocation``, when staff did (``opened_by`` is "staff:<username>"); None when the
    partner or a scanner did."""
    kind, _sep, name = revocation.opened_by.partition(":")
    return name if kind == AuditEvent.ActorType.STAFF else None


def opened_by_security_member(revocation: RevocationRequest) -> bool:
    """Whether a member of the security group opened ``revocation``: they cannot complete it themselves."""
    opener = request_opener_username(revocation)
    if opener is None:
        return False
    return (
        get_user_model()
        ._default_manager.filter(**{get_user_model().USERNAME_FIELD: opener}, groups__name="security")
        .exists()
    )


def only_security_completes_note(revocation: RevocationRequest) -> str:
    """On a pending request's page, for staff who cannot complete it (support): who can, by name, so they
    know whom to ask. Never the member who opened it: the two-person rule refuses them. With nobody
    left, whom to ask instead (a superuser), and why nobody is left."""
    opener = request_opener_username(revocation)
    members = security_members(excluding_username=opener)
    if members:
        return _("Only a member of the security group can complete this request: %(names)s.") % {
            "names": words_list(members)
        }
    lone_opener = security_members() if opener else []
    if lone_opener:
        return _(
            "Only a member of the security group can complete this request, and %(name)s, its only active "
            "member, opened this request (whoever opens a request cannot complete it): ask a console "
            "administrator (superuser) to complete it or to add another member to the security group."
        ) % {"name": lone_opener[0]}
    return _(
        "Only a member of the security group can complete this request, but the security group has no "
        "active member: ask a console administrator (superuser)."
    )


def request_completer(*, opener_username: str | None, opener_is_security: bool) -> tuple[str, str]:
    """Who completes a request opened by ``opener_username``, to put in "until … completes the request":
    a member of the security group, by name, or another one when a member opened it (the two-person rule
    refuses the opener; support is not in the group, so "another" would be wrong); "someone" when nobody
    is left. Second, the sentence that goes with it: that rule, or whom to ask when nobody is left."""
    members = security_members(excluding_username=opener_username)
    if members and opener_is_security:
        return (
            _("another member of the security group (%(names)s)") % {"names": words_list(members)},
            _("Whoever opens a request cannot complete it."),
        )
    if members:
        return _("a member of the security group (%(names)s)") % {"names": words_list(members)}, ""
    if opener_is_security:
        return (
            _("someone"),
            _(
                "Nobody else in the security group is active, and whoever opens a request cannot complete it: "
                "ask a console administrator (superuser) to complete it or to add another member to the "
                "security group."
            ),
        )
    return (
        _("someone"),
        _("The security group has no active member: ask a console administrator (superuser) to complete it."),
    )


def opener_cannot_complete_note(viewer) -> str:
    """On a pending request's page, for the security member who opened it: the two-person rule refuses
    them, so who else can complete it, or, with nobody else, whom to ask."""
    members = security_members(excluding=viewer)
    if members:
        return _(
            "You opened this request: someone else in the security group must complete it (%(names)s)."
        ) % {"names": words_list(members)}
    return _(
        "You opened this request, so someone else must complete it, and nobody else in the security group "
        "is active: ask a console administrator (superuser) to complete it or to add another member to the "
        "security group."
    )


def yourself_refused_line(user) -> str:
    """Refusing a self-reset of the second factor or a self lift of a lock: which other security
    members can do it, or a superuser when nobody else is active."""
    members = security_members(excluding=user)
    if not members:
        return _(
            "Nobody does this for themselves, and nobody else in the security group is active: ask a "
            "console administrator (superuser)."
        )
    return _("Nobody does this for themselves: ask another member of the security group (%(names)s).") % {
        "names": words_list(members)
    }


class RefusedOnRequest(PermissionDenied):
    """A refusal on a revocation request's own page (its completion page): the 403 page then names who
    can complete that request, never its opener (the two-person rule refuses them)."""

    def __init__(self, revocation: RevocationRequest) -> None:
        super().__init__()
        self.revocation = revocation


def refused_whom_to_ask(user, *, revocation: RevocationRequest | None = None) -> str:
    """Whom a refused staff member asks, by name: the active security members, or, for a security member
    or when the group has no active member, a superuser (the only one who reaches the rest). Refused on a
    request's page (``revocation``), never its opener: they cannot complete it."""
    if is_security_member(user):
        return _("Your role does not allow this. Ask a console administrator (superuser).")
    if not (user.is_authenticated and user.is_staff):  # names are for staff only
        return _("Your role does not allow this. Ask someone in the security group.")
    opener = request_opener_username(revocation) if revocation is not None else None
    members = security_members(excluding=user, excluding_username=opener)
    # Only the request's opener is left in the group, and the two-person rule refuses them.
    if not members and revocation is not None and opener and security_members():
        return " ".join([_("Your role does not allow this."), only_security_completes_note(revocation)])
    if not members:
        return _(
            "Your role does not allow this, and the security group has no active member: ask a console "
            "administrator (superuser)."
        )
    return _("Your role does not allow this. Ask someone in the security group: %(names)s.") % {
        "names": words_list(members)
    }
