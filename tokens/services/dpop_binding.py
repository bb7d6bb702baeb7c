"""DPoP (RFC 9449), opt-in per community: proofs accepted once, and tokens bound to the proof's key."""

from bfluence.conf import app_settings
from clients.services import AuthenticatedClient, client_refuse, jti_use_once
from tokens.dpop import ProofRejected, VerifiedProof, proof_verify


def dpop_proof_accept(*, proof: str, method: str, url: str, access_token: str | None = None) -> VerifiedProof:
    """A valid proof for this request, used for the first time; ``ProofRejected`` otherwise.

    Its ``jti`` is recorded as a unique database row, so a replay is refused on every process and
    server, whatever the cache backend.
    """
    verified = proof_verify(
        proof, method=method, url=url, access_token=access_token, leeway=app_settings().leeway_seconds
    )
    if not jti_use_once(kind="dpop", issuer=verified.jkt, jti=verified.jti, expires_at=verified.expires_at):
        raise ProofRejected("replayed_jti")
    return verified


def token_binding_for(
    *,
    client: AuthenticatedClient,
    proof: str | None,
    url: str,
    source_ip: str | None,
) -> str | None:
    """At ``/auth/token``: the key thumbprint to bind the new token to, or ``None`` for a Bearer token.

    ``off``: a ``DPoP`` header is ignored (as a server without DPoP would); ``optional``: a proof, if
    sent, must be valid and binds the token; ``required``: no token without a valid proof. Every
    refusal is the usual ``invalid_client`` (SPEC §4.1), with the reason in the audit trail.
    """
    mode = client.policy.dpop
    if mode == "off" or (proof is None and mode == "optional"):
        return None
    reason = "dpop_proof_required"
    if proof is not None:
        try:
            return dpop_proof_accept(proof=proof, method="POST", url=url).jkt
        except ProofRejected as rejected:
            reason = f"dpop_{rejected.reason}"
    raise client_refuse(
        reason=reason,
        client_id=client.community.client_id,
        community=client.community,
        source_ip=source_ip,
        method=client.method,
        via_basic=client.via_basic,
    )
