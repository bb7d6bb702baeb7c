"""A small Bfluence partner client: the way we recommend calling the API from your server.

Run it as a program to print a member's balance (the credentials come from the environment, never from
the command line, where shell history and ``ps`` would show them):

    export BFLUENCE_CLIENT_ID=demo-community BFLUENCE_CLIENT_SECRET=bfl_sk_...
    python3 examples/partner_client.py --base-url http://127.0.0.1:8000 123

Or use it from your code:

    client = BfluenceClient(
        os.environ["BFLUENCE_BASE_URL"],
        client_id=os.environ["BFLUENCE_CLIENT_ID"],
        client_secret=os.environ["BFLUENCE_CLIENT_SECRET"],
    )
    balance = client.get_bflus("123")          # {"community": "acme", "client": "123", "bflus": 1500, ...}

It fetches a token once and reuses it until shortly before it expires, renews it then, retries once with
a fresh token when a call answers 401 (revoked or expired early), and honours ``Retry-After`` on 429 and
503. Only ``requests`` is needed. Keep the secret in an environment variable or a secret store, never in
code, and never call this from a browser.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests


class BfluenceError(Exception):
    """An answer in the API's error shape: ``code`` is the stable ``error``, ``description`` the text."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status, self.code, self.description = status, code, description


@dataclass
class _Token:
    value: str
    renew_at: float


class BfluenceClient:
    #: Renew this many seconds before the token expires (clock skew, slow networks).
    RENEW_MARGIN = 60
    #: Never wait longer than this for a Retry-After, whatever the server says.
    MAX_RETRY_AFTER = 30

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        session: requests.Session | None = None,
        timeout: float = 10,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = (client_id, client_secret)
        self._session = session or requests.Session()
        self._timeout = timeout
        self._sleep, self._clock = sleep, clock
        self._token: _Token | None = None
        self._lock = threading.Lock()  # one renewal at a time when threads share the client

    def __repr__(self) -> str:
        return f"BfluenceClient({self.base_url!r}, client_id={self._credentials[0]!r})"

    # --- the API ---------------------------------------------------------------------------------
    def get_bflus(self, member: str) -> dict[str, Any]:
        """A member's balance. Raises ``BfluenceError`` (e.g. code ``not_found``) on a 4xx."""
        return self._call("GET", f"/communities/hub/client/{quote(member, safe='')}/get-bflus")

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/auth/me")

    def revoke(self) -> None:
        """Revoke the current token (RFC 7009), e.g. when shutting down a compromised host."""
        with self._lock:
            token, self._token = self._token, None
        if token:
            self._request("POST", "/auth/revoke", data={"token": token.value}, auth=self._credentials)

    # --- tokens ----------------------------------------------------------------------------------
    def access_token(self) -> str:
        """The cached token, renewed shortly before it expires."""
        with self._lock:
            if self._token is None or self._clock() >= self._token.renew_at:
                self._token = self._fetch_token()
            return self._token.value

    def _fetch_token(self) -> _Token:
        body = self._request(
            "POST", "/auth/token", data={"grant_type": "client_credentials"}, auth=self._credentials
        )
        lifetime = int(body["expires_in"])
        return _Token(body["access_token"], self._clock() + max(lifetime - self.RENEW_MARGIN, lifetime / 2))

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token and self._token.value == token:
                self._token = None

    # --- HTTP --------------------------------------------------------------------------------------
    def _call(self, method: str, path: str) -> dict[str, Any]:
        """A Bearer call; on 401 one retry with a fresh token (it may have been revoked or expired)."""
        token = self.access_token()
        try:
            return self._request(method, path, headers={"Authorization": f"Bearer {token}"})
        except BfluenceError as error:
            if error.status != 401:
                raise
        self._forget(token)
        return self._request(method, path, headers={"Authorization": f"Bearer {self.access_token()}"})

    def _request(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        for attempt in range(3):
            response = self._session.request(method, self.base_url + path, timeout=self._timeout, **kwargs)
            if response.status_code in (429, 503) and attempt < 2:
                self._sleep(min(float(response.headers.get("Retry-After", 1)), self.MAX_RETRY_AFTER))
                continue
            break
        body = response.json() if response.content else {}
        if response.status_code >= 400:
            raise BfluenceError(
                response.status_code, body.get("error", "unknown"), body.get("error_description", "")
            )
        return body


def main(argv: list[str] | None = None) -> int:
    """Print one member's balance; exit 0, or 1 with the API's error (2 for missing credentials)."""
    parser = argparse.ArgumentParser(
        description="Print a member's bflus balance. Credentials: BFLUENCE_CLIENT_ID and "
        "BFLUENCE_CLIENT_SECRET in the environment."
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("BFLUENCE_BASE_URL", "http://127.0.0.1:8000"),
        help="the API's address (default: $BFLUENCE_BASE_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "member", nargs="?", default="123", help="your reference for the member (default 123)"
    )
    args = parser.parse_args(argv)
    client_id = os.environ.get("BFLUENCE_CLIENT_ID", "")
    client_secret = os.environ.get("BFLUENCE_CLIENT_SECRET", "")
    if not client_id or not client_secret:
        print("Set BFLUENCE_CLIENT_ID and BFLUENCE_CLIENT_SECRET in the environment.", file=sys.stderr)
        return 2
    client = BfluenceClient(args.base_url, client_id=client_id, client_secret=client_secret)
    try:
        balance = client.get_bflus(args.member)
    except BfluenceError as error:
        print(f"Refused: {error}", file=sys.stderr)
        return 1
    except requests.RequestException as error:
        print(f"Cannot reach {args.base_url}: {error.__class__.__name__}", file=sys.stderr)
        return 1
    print(
        f"member {balance['client']} of {balance['community']}: {balance['bflus']} bflus "
        f"(updated {balance['updated_at']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
