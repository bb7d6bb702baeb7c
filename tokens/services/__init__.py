"""What a token may do: issuing, revoking and binding access tokens, revocation requests, and the
cut-offs that end a community's credentials and tokens together.

Views, admin actions and management commands call these functions; nothing else writes tokens. Every
write is atomic and records its audit event in the same transaction.
"""

from tokens.services.allowlist import (
    LastSeenAddress,
    allowlist_refuses_recent_callers,
)
from tokens.services.bearer import api_call_refused
from tokens.services.dpop_binding import dpop_proof_accept, token_binding_for
from tokens.services.issuance import IssuedAccessToken, token_issue, token_lifetime_for
from tokens.services.lifecycle import (
    KeyRetirement,
    community_deactivate,
    community_retire_key,
    community_rotate_secret,
)
from tokens.services.live_split import (
    NO_LIVE_TOKEN,
    LiveTokenSplit,
    live_token_split,
    live_token_splits,
    live_tokens,
    refused_though_live,
)
from tokens.services.refusals import (
    REFUSED_BY_DPOP_POLICY,
    REFUSED_THOUGH_LIVE,
    BearerUse,
    TokenRefusal,
    api_allowlist,
    dpop_requirement_cuts,
    token_refusals,
    token_refused_by_dpop_policy,
)
from tokens.services.revocation import (
    jtis_not_issued_to,
    token_revoke_presented,
    tokens_purge,
    tokens_revoke,
    tokens_revoke_all,
)
from tokens.services.revocation_requests import (
    TokensCompletionRevokes,
    revocation_request_handle,
    revocation_request_open,
    secrets_named_on_opening,
    tokens_a_completion_revokes,
)

__all__ = [
    "NO_LIVE_TOKEN",
    "REFUSED_BY_DPOP_POLICY",
    "REFUSED_THOUGH_LIVE",
    "BearerUse",
    "IssuedAccessToken",
    "KeyRetirement",
    "LastSeenAddress",
    "LiveTokenSplit",
    "TokenRefusal",
    "TokensCompletionRevokes",
    "allowlist_refuses_recent_callers",
    "api_allowlist",
    "api_call_refused",
    "community_deactivate",
    "community_retire_key",
    "community_rotate_secret",
    "dpop_proof_accept",
    "dpop_requirement_cuts",
    "jtis_not_issued_to",
    "live_token_split",
    "live_token_splits",
    "live_tokens",
    "refused_though_live",
    "revocation_request_handle",
    "revocation_request_open",
    "secrets_named_on_opening",
    "token_binding_for",
    "token_issue",
    "token_lifetime_for",
    "token_refusals",
    "token_refused_by_dpop_policy",
    "token_revoke_presented",
    "tokens_a_completion_revokes",
    "tokens_purge",
    "tokens_revoke",
    "tokens_revoke_all",
]
