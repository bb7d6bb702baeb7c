"""What a secret's end or rotation leaves of the tokens already issued, said as the API takes them now: a
policy that requires DPoP already refuses the Bearer tokens, an allowlist applied to API calls those
issued outside it, and a deactivated community every token. The stop-previous-secret page and the
rotate page's revoke box say it the same way; which token is refused, and why, is the tokens services'
rule (``live_token_split``), only said here."""

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from communities.models import Community
from console.forms import SecretsRefusedBy
from console.refused_tokens import refused_reasons
from tokens.models import IssuedToken
from tokens.services import LiveTokenSplit, live_token_split


def _issued_tokens_now(community: Community) -> LiveTokenSplit:
    return live_token_split(IssuedToken.objects.filter(community=community), now=timezone.now())


def _refused_tokens_said(tokens: LiveTokenSplit, *, revocable_here: bool) -> str:
    """Some or all of the live tokens refused: how many work until they expire, how many the API already
    refuses and why; never "tokens already issued keep working" when none does."""
    reasons = refused_reasons(tokens)
    if not tokens.working:
        said = ngettext(
            "The token already issued and not yet expired is refused by the API (%(reasons)s): no token "
            "works now.",
            "The %(count)s tokens already issued and not yet expired are all refused by the API "
            "(%(reasons)s): no token works now.",
            tokens.refused,
        ) % {"count": tokens.refused, "reasons": reasons}
        if revocable_here:
            said = " ".join([said, _("Revoking them here keeps them refused whatever the policy becomes.")])
        return said
    if revocable_here:
        working = ngettext(
            "%(count)s token already issued keeps working until it expires, unless revoked here.",
            "%(count)s tokens already issued keep working until they expire, unless revoked here.",
            tokens.working,
        )
    else:
        working = ngettext(
            "%(count)s token already issued keeps working until it expires.",
            "%(count)s tokens already issued keep working until they expire.",
            tokens.working,
        )
    refused = ngettext(
        "%(count)s more is already refused by the API (%(reasons)s).",
        "%(count)s more are already refused by the API (%(reasons)s).",
        tokens.refused,
    )
    return " ".join(
        [
            working % {"count": tokens.working},
            refused % {"count": tokens.refused, "reasons": reasons},
        ]
    )


def _deactivated_said() -> str:
    # Deactivating revoked its tokens; none issued since: nothing works until it is reactivated.
    return _("The community is deactivated: the API refuses every token until it is reactivated.")


def _old_secret_already_refused(cause: SecretsRefusedBy) -> str:
    """The old secret gets no token now whatever this page does: ending it keeps it so for good."""
    return _(
        "Requests with the old secret already fail: %(why)s. Ending it now makes sure it does not work "
        "again if %(until)s."
    ) % {"why": cause.why, "until": cause.until}


def stop_previous_secret_consequence(
    community: Community, *, secrets_refused_by: SecretsRefusedBy | None = None
) -> str:
    """Under "end the old secret now"'s question: what stops, and what the tokens already issued do.
    ``secrets_refused_by``: why the old secret is refused already (never "fails from now on" then)."""
    stops = (
        _("The partner's requests with the old secret fail from now on.")
        if secrets_refused_by is None
        else _old_secret_already_refused(secrets_refused_by)
    )
    if not community.is_active:
        return " ".join([stops, _deactivated_said()])
    tokens = _issued_tokens_now(community)
    if not tokens.refused:
        if secrets_refused_by is None:
            return _(
                "The partner's requests with the old secret fail from now on; tokens already issued stay "
                "valid."
            )
        return " ".join([stops, _("Tokens already issued stay valid.")])
    return " ".join([stops, _refused_tokens_said(tokens, revocable_here=False)])


def revoke_tokens_help(community: Community) -> str:
    """The rotate page's "also revoke every live token" box, when no grace window is on offer."""
    if not community.is_active:
        return _deactivated_said()
    tokens = _issued_tokens_now(community)
    if not tokens.refused:
        return _("Tokens already issued keep working until they expire, unless revoked here.")
    return _refused_tokens_said(tokens, revocable_here=True)
