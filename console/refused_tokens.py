"""The words for live tokens the API refuses all the same (``tokens.services.live_token_split``), shared
by the confirmations that revoke them: "revoke all tokens", "deactivate", "revoke selected" and "retire a
key"."""

from django.utils.translation import gettext, gettext_lazy, ngettext

from console.humane import words_list
from tokens.services import LiveTokenSplit, TokenRefusal

# In the order the bearer check meets them (tokens/authentication.py).
_REASONS = {
    TokenRefusal.COMMUNITY_INACTIVE: gettext_lazy("community inactive"),
    TokenRefusal.DPOP_REQUIRED: gettext_lazy("DPoP required"),
}


def refused_reasons(split: LiveTokenSplit) -> str:
    """ "comunidade desativada e DPoP obrigatório": only the reasons present."""
    return words_list([str(words) for reason, words in _REASONS.items() if reason in split.reasons])


def refused_revoked_too(split: LiveTokenSplit) -> str:
    """Said after the active tokens' count: the refused ones go too."""
    return ngettext(
        "%(count)s more token, already refused by the API (%(reasons)s), is revoked too.",
        "%(count)s more tokens, already refused by the API (%(reasons)s), are revoked too.",
        split.refused,
    ) % {"count": split.refused, "reasons": refused_reasons(split)}


def key_tokens_revoked_said(split: LiveTokenSplit) -> str:
    """On the key retire page, before confirming: how many live tokens obtained with the key go (those the
    API already refuses apart), or that there is none, as "revoke all tokens" counts before."""
    if not split.working and not split.refused:
        return gettext("No active token was issued with this key: there is nothing to revoke.")
    if not split.working:
        return ngettext(
            "The token issued with this key, already refused by the API (%(reasons)s), will be revoked, "
            "unless you tick the box below.",
            "The %(count)s tokens issued with this key, all already refused by the API (%(reasons)s), will "
            "be revoked, unless you tick the box below.",
            split.refused,
        ) % {"count": split.refused, "reasons": refused_reasons(split)}
    said = ngettext(
        "%(count)s active token issued with this key will be revoked, unless you tick the box below.",
        "%(count)s active tokens issued with this key will be revoked, unless you tick the box below.",
        split.working,
    ) % {"count": split.working}
    return " ".join([said, refused_revoked_too(split)]) if split.refused else said
