"""Who is calling: authenticating clients, and creating, rotating and retiring their credentials.

Views, admin actions and management commands call these functions; nothing else writes credentials.
Every write is atomic and records its audit event in the same transaction.
"""

from clients.services.audit_retention import audit_failures_purge
from clients.services.authentication import (
    AuthenticatedClient,
    ClientAssertion,
    ClientCredentials,
    client_authenticate,
    client_refuse,
    client_still_entitled,
    failures_counted_by,
)
from clients.services.jtis import jti_use_once, used_jtis_purge
from clients.services.keys import (
    MAX_ACTIVE_KEYS,
    active_keys,
    client_key_add,
    client_key_refuse_if_held_elsewhere,
    client_key_retire,
)
from clients.services.onboarding import DEMO_CLIENT_ID, NewCommunity, community_create, community_seed_demo
from clients.services.policy import (
    ClosedWay,
    PolicyChange,
    client_auth_policy_get,
    client_auth_policy_set,
    closed_ways,
    communities_a_new_secret_cannot_reopen,
    communities_keys_outlast_secrets,
    keys_outlasting_secrets,
    keys_that_outlast_secrets,
    policy_locks_out,
    policy_summary,
    secret_use_a_change_cuts,
    working_methods,
)
from clients.services.secrets import (
    MAX_GRACE,
    SecretRotation,
    secret_create,
    secret_expire_previous,
    secret_grace_window_end,
    secret_in_grace,
    secret_rotate,
    secrets_a_rotation_ends,
    secrets_ended,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "MAX_ACTIVE_KEYS",
    "MAX_GRACE",
    "AuthenticatedClient",
    "ClientAssertion",
    "ClientCredentials",
    "ClosedWay",
    "NewCommunity",
    "PolicyChange",
    "SecretRotation",
    "active_keys",
    "audit_failures_purge",
    "client_auth_policy_get",
    "client_auth_policy_set",
    "client_authenticate",
    "client_key_add",
    "client_key_refuse_if_held_elsewhere",
    "client_key_retire",
    "client_refuse",
    "client_still_entitled",
    "closed_ways",
    "communities_a_new_secret_cannot_reopen",
    "communities_keys_outlast_secrets",
    "community_create",
    "community_seed_demo",
    "failures_counted_by",
    "jti_use_once",
    "keys_outlasting_secrets",
    "keys_that_outlast_secrets",
    "policy_locks_out",
    "policy_summary",
    "secret_create",
    "secret_expire_previous",
    "secret_grace_window_end",
    "secret_in_grace",
    "secret_rotate",
    "secret_use_a_change_cuts",
    "secrets_a_rotation_ends",
    "secrets_ended",
    "used_jtis_purge",
    "working_methods",
]
