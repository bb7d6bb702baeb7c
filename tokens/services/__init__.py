"""Credentials: authenticating clients, issuing and revoking tokens, creating and rotating secrets, and
the community lifecycle steps that involve them (onboarding, deactivation, the demo community).

Views, admin actions and management commands call these functions and nothing else writes credentials.
Every write is atomic and records its audit event in the same transaction.
"""

from tokens.services.client_auth import (
    PolicyChange,
    api_call_refused,
    client_auth_policy_get,
    client_auth_policy_set,
    client_key_add,
    client_key_retire,
    jti_use_once,
    policy_locks_out,
    policy_summary,
    used_jtis_purge,
)
from tokens.services.client_secrets import (
    MAX_GRACE,
    SecretRotation,
    secret_create,
    secret_expire_previous,
    secret_rotate,
)
from tokens.services.dpop_binding import dpop_proof_accept, token_binding_for
from tokens.services.issuance import (
    AuthenticatedClient,
    ClientAssertion,
    ClientCredentials,
    IssuedAccessToken,
    client_authenticate,
    token_issue,
    token_lifetime_for,
)
from tokens.services.onboarding import (
    DEMO_CLIENT_ID,
    NewCommunity,
    community_create,
    community_deactivate,
    community_seed_demo,
)
from tokens.services.revocation import token_revoke_presented, tokens_purge, tokens_revoke, tokens_revoke_all
from tokens.services.revocation_requests import revocation_request_handle, revocation_request_open
from tokens.services.secret_memory import ClientOutdated

__all__ = [
    "DEMO_CLIENT_ID",
    "MAX_GRACE",
    "AuthenticatedClient",
    "ClientAssertion",
    "ClientCredentials",
    "ClientOutdated",
    "IssuedAccessToken",
    "NewCommunity",
    "PolicyChange",
    "SecretRotation",
    "api_call_refused",
    "client_auth_policy_get",
    "client_auth_policy_set",
    "client_authenticate",
    "client_key_add",
    "client_key_retire",
    "community_create",
    "community_deactivate",
    "community_seed_demo",
    "dpop_proof_accept",
    "jti_use_once",
    "policy_locks_out",
    "policy_summary",
    "revocation_request_handle",
    "revocation_request_open",
    "secret_create",
    "secret_expire_previous",
    "secret_rotate",
    "token_binding_for",
    "token_issue",
    "token_lifetime_for",
    "token_revoke_presented",
    "tokens_purge",
    "tokens_revoke",
    "tokens_revoke_all",
    "used_jtis_purge",
]
