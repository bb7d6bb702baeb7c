"""The words for live tokens the API refuses all the same (``tokens.services.live_token_split``), shared
by the confirmations that revoke them: "revoke all tokens", "deactivate" and "revoke selected"."""

from django.utils.translation import gettext_lazy, ngettext

from console.humane import words_list
from tokens.services import LiveTokenSplit, TokenRefusal

# In the order the bearer check meets them (tokens/authentication.py).
_REASONS = {
    TokenRefusal.COMMUNITY_INACTIVE: gettext_lazy("community inactive"),
    TokenRefusal.DPOP_REQUIRED: gettext_lazy("DPoP required"),
    TokenRefusal.OUTSIDE_ALLOWLIST: gettext_lazy("outside the IP allowlist"),
}


def refused_reasons(split: LiveTokenSplit) -> str:
    """ "DPoP obrigatório e fora da lista de IPs permitidos": only the reasons present."""
    return words_list([str(words) for reason, words in _REASONS.items() if reason in split.reasons])


def refused_revoked_too(split: LiveTokenSplit) -> str:
    """Said after the active tokens' count: the refused ones go too."""
    return ngettext(
        "%(count)s more token, already refused by the API (%(reasons)s), is revoked too.",
        "%(count)s more tokens, already refused by the API (%(reasons)s), are revoked too.",
        split.refused,
    ) % {"count": split.refused, "reasons": refused_reasons(split)}
