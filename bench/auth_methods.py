"""The stronger client-authentication methods beside the secret path (issue 15), for bench/run.py.

Each request of these needs a value nobody can reuse (an assertion's or a proof's ``jti``), and wrk
cannot sign JWTs: so each run gets a file of values signed just before it, which a small Lua script
hands out one per request. Measured on the same project server, in interleaved rounds:

    token-secret   POST /auth/token, client_id + client_secret (the default path, the yardstick)
    token-pkjwt    POST /auth/token, private_key_jwt (ES256 assertion, single-use jti row)
    token-dpop     POST /auth/token, secret + DPoP proof (DPoP-bound token, proof jti row)
    bflus-bearer   get-bflus with a Bearer token (the default path, the yardstick)
    bflus-dpop     get-bflus with a DPoP-bound token and a fresh proof per call
"""

import base64
import hashlib
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NAMES = {
    "token-secret": "POST /auth/token, client_secret",
    "token-pkjwt": "POST /auth/token, private_key_jwt (ES256)",
    "token-dpop": "POST /auth/token, client_secret + DPoP proof",
    "bflus-bearer": "get-bflus, Bearer",
    "bflus-dpop": "get-bflus, DPoP token + proof",
}
RATIOS = (("token-pkjwt", "token-secret"), ("token-dpop", "token-secret"), ("bflus-dpop", "bflus-bearer"))


def _keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    client_key, dpop_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    public_pem = client_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return client_key, dpop_key, public_pem


def _proof(dpop_key, jwk: dict, method: str, url: str, token: str | None = None) -> str:
    import jwt

    claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
    if token:
        claims["ath"] = (
            base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        )
    return jwt.encode(claims, dpop_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})


def _assertion(client_key, client_id: str, audience: str) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        },
        client_key,
        algorithm="ES256",
    )


def _script(
    values: list[str], method: str, path: str, headers: dict[str, str], body: str = "", value_in: str = ""
) -> str:
    """A Lua script for wrk: request i carries values[i] in header ``value_in`` or at the end of the body."""
    data = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    data.write("\n".join(values))
    data.close()
    fixed = ", ".join(f'["{name}"] = "{value}"' for name, value in headers.items())
    header_line = f'headers["{value_in}"] = v' if value_in else f'body = "{body}" .. v'
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f"""
local values = {{}}
for line in io.lines("{data.name}") do values[#values + 1] = line end
local i = 0
request = function()
  i = i + 1
  local v = values[((i - 1) % #values) + 1]
  local headers = {{{fixed}}}
  local body = "{body if value_in else ""}"
  {header_line}
  return wrk.format("{method}", "{path}", headers, body)
end
""")
    script.close()
    return script.name


def measure_methods(
    *, project, manage, env: dict, created: dict, seconds: int, connections: int, rounds: int, wrk, say
) -> list[dict]:
    """Switch the bench community on for private_key_jwt and optional DPoP, then run the five endpoints."""
    import urllib.request

    from jwt.algorithms import ECAlgorithm

    client_key, dpop_key, public_pem = _keys()
    key_file = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
    key_file.write(public_pem)
    key_file.close()
    client_id = created["client_id"]
    manage(env, "add_client_key", client_id, "--public-key", key_file.name)
    manage(
        env, "set_client_auth", client_id, "--methods", "client_secret,private_key_jwt", "--dpop", "optional"
    )
    Path(key_file.name).unlink()
    jwk = json.loads(ECAlgorithm.to_jwk(dpop_key.public_key()))
    token_url, bflus_path = f"{project.url}/auth/token", "/communities/hub/client/123/get-bflus"
    secret_body = json.dumps({"client_id": client_id, "client_secret": created["client_secret"]})

    def post(headers: dict) -> dict:
        request = urllib.request.Request(
            token_url,
            method="POST",
            data=secret_body.encode(),
            headers={"Content-Type": "application/json", **headers},
        )
        return json.load(urllib.request.urlopen(request))

    bearer = post({})["access_token"]
    bound = post({"DPoP": _proof(dpop_key, jwk, "POST", token_url)})
    assert bound["token_type"] == "DPoP", bound
    dpop_token = bound["access_token"]
    count = min(3000 * seconds, 60_000)  # more than one server answers in a run; a repeat shows as an error
    json_headers = {"Content-Type": "application/json"}
    escaped = secret_body.replace('"', '\\"')

    def runs() -> dict:
        """Scripts signed just before use (proofs are fresh for a minute)."""
        return {
            "token-secret": lambda: dict(
                url=token_url, script=_script(["-"], "POST", "/auth/token", json_headers, escaped, "X-Bench")
            ),
            "token-pkjwt": lambda: dict(
                url=token_url,
                script=_script(
                    [quote(_assertion(client_key, client_id, token_url), safe="") for _ in range(count)],
                    "POST",
                    "/auth/token",
                    {"Content-Type": "application/x-www-form-urlencoded"},
                    f"grant_type=client_credentials&client_assertion_type={quote(ASSERTION_TYPE, safe='')}"
                    "&client_assertion=",
                ),
            ),
            "token-dpop": lambda: dict(
                url=token_url,
                script=_script(
                    [_proof(dpop_key, jwk, "POST", token_url) for _ in range(count)],
                    "POST",
                    "/auth/token",
                    json_headers,
                    escaped,
                    "DPoP",
                ),
            ),
            "bflus-bearer": lambda: dict(
                url=f"{project.url}{bflus_path}", headers={"Authorization": f"Bearer {bearer}"}
            ),
            "bflus-dpop": lambda: dict(
                url=f"{project.url}{bflus_path}",
                script=_script(
                    [
                        _proof(dpop_key, jwk, "GET", f"{project.url}{bflus_path}", dpop_token)
                        for _ in range(count)
                    ],
                    "GET",
                    bflus_path,
                    {"Authorization": f"DPoP {dpop_token}"},
                    "",
                    "DPoP",
                ),
            ),
        }

    names, per_round = list(NAMES), []
    for run in range(rounds):
        results = {}
        for name in names[run % len(names) :] + names[: run % len(names)]:
            spec = runs()[name]()
            say(f"methods round {run + 1}: {name}")
            results[name] = wrk(
                spec["url"],
                seconds=seconds,
                connections=connections,
                script=spec.get("script"),
                headers=spec.get("headers"),
            )
        per_round.append(results)
    return per_round


def methods_table(per_round: list[dict]) -> str:
    lines = [
        "| endpoint | median requests/s | median p50 ms | median p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in NAMES.items():
        rps = statistics.median(r[name]["rps"] for r in per_round)
        p50 = statistics.median(r[name]["p50_ms"] for r in per_round)
        p99 = statistics.median(r[name]["p99_ms"] for r in per_round)
        errors = sum(r[name]["non_2xx"] + r[name]["socket_errors"] for r in per_round)
        lines.append(f"| {label} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {errors} |")
    lines.append("")
    lines.append("| ratio of requests/s | median | range |")
    lines.append("|---|---:|---:|")
    for a, b in RATIOS:
        values = [r[a]["rps"] / r[b]["rps"] for r in per_round]
        lines.append(
            f"| {NAMES[a]} ÷ {NAMES[b]} | {statistics.median(values):.2f} | "
            f"{min(values):.2f}–{max(values):.2f} |"
        )
    return "\n".join(lines)
