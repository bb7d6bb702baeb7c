"""Rate limits on client authentication (SPEC §2.1): ``/auth/token``, ``/auth/revoke``,
``/auth/revocation-requests``.

Knowing a client_id gives no power over that partner, so what is counted where:

- ``token_ip``: every attempt, per source IP, counted before anything else (DRF's throttle step);
- ``token_failures``: failed client authentications, per source IP and per client_id + source IP;

(a source IP being an IPv4 address or an IPv6 network: ``bfluence.source_ip.limit_bucket``)

and, never refusing anything, two allowances of audit rows per client_id (beyond one, a failure is still
counted and refused as usual, and counted in a metric, but not recorded: nobody can grow the audit trail
of a tenant without bound, whether by naming its client_id or by replaying an old leaked secret of it):

  - ``token_failures_audited``: guesses, well-formed credentials that match nothing (rows naming no
    community);
  - ``credential_refusals_audited``: refusals of one of the community's real credentials (its secret
    ended or suspended, the community inactive, its policy refusing the method: rows naming the
    community). Apart from the guesses', so an outsider's junk cannot leave a credential holder's
    refusal unrecorded, and a replayed old secret cannot leave the guesses unrecorded.
- ``token_client``: per client_id, only requests that *authenticated* as that client.

Two cache round trips (one Redis script each): the attempt before the view runs, and the outcome once
authentication has returned (``count_failure`` or ``count_success``). A failure whose count comes back
past its limit is answered 429 instead of 401, so however many guesses arrive at once, exactly the limit
of them get a verdict. Counts are fixed windows (epoch-aligned, ``N/period``): a caller may fit up to
twice the rate across a boundary.

Each process remembers which limits the shared count has reached in their current window (``refusals``):
a caller already refused here gets its 429 without a cache call. With the cache unreachable (or silent,
or left alone by the breaker in ``bfluence/cache.py``), ``/auth/token`` is answered 503 before any
database work: an outage never lets guesses through uncounted. ``/auth/revoke`` and
``/auth/revocation-requests`` must keep working then (SPEC §2.7: a partner can always pull the brake), so
they count in this process instead (``fallback``): the same windows and limits, per process.
"""

import hashlib
import itertools
import threading
import time
from collections.abc import Sequence

from rest_framework import settings as drf_settings
from rest_framework.exceptions import APIException
from rest_framework.throttling import BaseThrottle

from bfluence import metrics
from bfluence.cache import CacheUnavailable, Increments, shared_counters
from bfluence.errors import RateLimited, ServiceUnavailable
from bfluence.source_ip import request_source_ip, source_limit_bucket
from bfluence.usage import AUTH_FAILURES, usage_increment
from clients.credentials import client_id_hint

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _digest(value: str) -> str:
    # Keys built from caller input are hashed: bounded length, no odd characters in cache keys.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _Window:
    """One count: its cache key for the current fixed window, its limit, and when the window ends."""

    def __init__(self, scope: str, name: str, ident: str, now: float) -> None:
        rate = drf_settings.api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        self.scope = scope
        self.enabled = isinstance(rate, str)  # None: this limit is switched off
        self.key, self.limit, self.duration, self.ends = "", 0, 1, now
        if isinstance(rate, str):
            number, period = rate.split("/")  # DRF's N/period form, as its throttles read it
            self.limit, self.duration = int(number), _PERIODS[period[0]]
            window = int(now // self.duration)
            self.key = f"throttle_{name}_{ident}:{window}"
            self.ends = (window + 1) * self.duration

    @property
    def memo_key(self) -> tuple[str, int]:
        # The limit is part of it: a count that reached 3 has not reached a limit of 300.
        return (self.key, self.limit)


class _Refusals:
    """This process's memo of limits the shared count has reached in their current window.

    Keyed by caller input (addresses, client_ids), so bounded: ended windows go first, then the oldest.
    Losing an entry costs only a round trip: the shared count still refuses.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ends: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def known(self, windows: list[_Window]) -> list[_Window]:
        return [window for window in windows if window.memo_key in self._ends]

    def remember(self, windows: list[_Window], now: float) -> None:
        with self._lock:
            for key in [key for key, ends in self._ends.items() if ends <= now]:
                del self._ends[key]
            overflow = len(self._ends) + len(windows) - self._size
            if overflow > 0:
                for key in list(itertools.islice(self._ends, overflow + self._size // 4)):
                    del self._ends[key]
            for window in windows:
                self._ends[window.memo_key] = window.ends

    def clear(self) -> None:
        with self._lock:
            self._ends.clear()


refusals = _Refusals(size=10_000)


class _LocalCounters:
    """This process's own counts, used only while the shared cache cannot answer, and only where a
    request must get through an outage (the brake). Bounded like ``_Refusals``: ended windows go first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, when it expires)
        self._lock = threading.Lock()

    def counters(self, increments: Increments, reads: list[str], now: float) -> tuple[list[int], list[int]]:
        with self._lock:
            if len(self._counts) + len(increments) > self._size:
                for key in [key for key, (_count, ends) in self._counts.items() if ends <= now]:
                    del self._counts[key]
                for key in list(itertools.islice(self._counts, max(0, len(self._counts) - self._size // 2))):
                    del self._counts[key]
            added = []
            for key, (amount, timeout) in increments.items():
                count, ends = self._counts.get(key, (0, now + timeout))
                if ends <= now:
                    count, ends = 0, now + timeout
                self._counts[key] = (count + amount, ends)
                added.append(count + amount)
            read = []
            for key in reads:
                count, ends = self._counts.get(key, (0, now))
                read.append(count if ends > now else 0)
            return added, read

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


fallback_counts = _LocalCounters(size=10_000)


_MOST_TELLING = ("token_failures", "token_ip", "token_client")  # which limit a 429 names first


def _telling_rank(scope: str) -> int:
    """A limit not listed in ``_MOST_TELLING`` is named after the listed ones, never a 500."""
    return _MOST_TELLING.index(scope) if scope in _MOST_TELLING else len(_MOST_TELLING)


def _refusal(windows: list[_Window], now: float) -> RateLimited:
    """429 until every reached window ends, naming the limit that tells the caller most (SPEC §2.1)."""
    scope = min((window.scope for window in windows), key=_telling_rank)
    return RateLimited(wait=max(window.ends for window in windows) - now, scope=scope)


class ClientAuthLimits:
    """The limits of one client-authenticated request: its attempt, then its outcome."""

    def __init__(
        self, *, source_ip: str | None, client_id: str | None, now: float, fallback: bool = False
    ) -> None:
        ip = source_limit_bucket(source_ip) or "unknown"  # IPv6: its /THROTTLE_IPV6_PREFIX network
        self.now = now
        self.fallback = fallback  # count in this process when the shared cache cannot answer
        self.client_id = client_id
        self.per_ip = _Window("token_ip", "token_ip", ip, now)
        failures = [_Window("token_failures", "token_failures_ip", ip, now)]
        if client_id:
            failures.append(
                _Window("token_failures", "token_failures_client_ip", _digest(f"{client_id}\x00{ip}"), now)
            )
        self.failures = [window for window in failures if window.enabled]
        self.audit_cap = self._allowance("token_failures_audited", client_id, now)
        self.credential_audit_cap = self._allowance("credential_refusals_audited", client_id, now)
        self._failure_audited: bool | None = None

    @staticmethod
    def _allowance(scope: str, client_id: str | None, now: float) -> list[_Window]:
        """An allowance of audit rows for this client_id: empty without a client_id, or switched off."""
        window = _Window(scope, scope, _digest(client_id or ""), now)
        return [window] if client_id and window.enabled else []

    def refused_here(self) -> RateLimited | None:
        """The refusal, if this process already saw the shared count refuse this caller in the current
        window (no cache call); else None."""
        known = refusals.known([self.per_ip, *self.failures])
        if not known:
            return None
        metrics.throttled(known[0].scope)
        return _refusal(known, self.now)

    def count_attempt(self) -> None:
        """Count the attempt per IP and read this caller's failures; ``RateLimited`` when either is at its
        limit."""
        self._count(added=[self.per_ip], read=self.failures)

    def count_failure(self, *, spends_audit_allowance: bool = True, names_community: bool = False) -> bool:
        """Count a failed authentication (once per request, however often asked); ``RateLimited`` when
        it went past a limit (no verdict given, and no audit row). True: the failure gets its audit row;
        False: past its audit allowance for this client_id, so a metric counts it instead.

        Every refusal passes here, whatever its reason (malformed, checksum, unknown or ended secret,
        policy): the same round trip adds it to the client_id's failures of the day (``bfluence.usage``)
        and to the allowance it spends. ``names_community``: a refusal of one of the community's real
        credentials, which spends ``credential_refusals_audited``; otherwise a guess, which spends
        ``token_failures_audited``. ``spends_audit_allowance=False``: a refusal that writes no row
        whatever an allowance says (a secret not even shaped like one, text no client sends): counted for
        the rate limits and the usage figures, but against no allowance, or junk would leave the
        well-formed guesses after it unrecorded.
        """
        if self._failure_audited is None:
            extra = usage_increment(AUTH_FAILURES, self.client_id) if self.client_id else {}
            allowance = []
            if spends_audit_allowance:
                allowance = self.credential_audit_cap if names_community else self.audit_cap
            tallied = self._count(added=self.failures, read=[], tallied=allowance, extra=extra)
            self._failure_audited = all(count <= window.limit for window, count in zip(allowance, tallied))
        return self._failure_audited

    def count_success(self, *, client_id: str) -> None:
        """Count an authenticated request against its client_id; ``RateLimited`` over the rate."""
        self._count(added=[_Window("token_client", "token_client", _digest(client_id), self.now)], read=[])

    def _count(
        self,
        *,
        added: list[_Window],
        read: list[_Window],
        tallied: Sequence[_Window] = (),
        extra: dict | None = None,
    ) -> list[int]:
        """Add to ``added`` (refusing past their limits), read ``read`` (refusing at them), add to
        ``tallied`` (never refusing: their counts are returned) and to the ``extra`` counters (the day's
        usage), in one cache round trip."""
        added = [window for window in added if window.enabled]
        if not added and not read and not tallied and not extra:
            return []
        increments = {window.key: (1, window.duration + 1) for window in [*added, *tallied]} | (extra or {})
        reads = [window.key for window in read]
        try:
            after, counts = shared_counters(increments, reads)
        except CacheUnavailable as unavailable:
            if unavailable.tripped:
                metrics.backend_error("cache")
            if not self.fallback:
                raise ServiceUnavailable(retry_after=unavailable.retry_after_seconds) from unavailable
            after, counts = fallback_counts.counters(increments, reads, self.now)
        # A count added to is past its limit when above it; one only read, when at it. At its limit, a
        # count refuses every later request of its window: remembered here, bar the per-client_id one
        # (whether a request counts against it is only known once it has authenticated).
        over = [window for window, count in zip(added, after[: len(added)]) if count > window.limit]
        reached = [window for window, count in zip(read, counts) if count >= window.limit]
        refused = over + reached
        memo = reached + [
            window
            for window, count in zip(added, after[: len(added)])
            if count >= window.limit and window.scope != "token_client"
        ]
        if memo:
            refusals.remember(memo, self.now)
        if refused:
            metrics.throttled(refused[0].scope)
            raise _refusal(refused, self.now)
        return after[len(added) :]


class ClientAuthThrottle(BaseThrottle):
    """DRF's throttle step for the client-authenticated views: the attempt, counted before the view runs.

    The request keeps its ``ClientAuthLimits`` for the outcome the view counts. A body that does not
    parse is still an attempt: counted, then its 400 raised.
    """

    def allow_request(self, request, view) -> bool:
        unreadable = None
        try:
            client_id = client_id_hint(request)
        except APIException as error:
            client_id, unreadable = None, error
        limits = ClientAuthLimits(
            source_ip=request_source_ip(request),
            client_id=client_id,
            now=time.time(),
            fallback=getattr(view, "works_without_cache", False),
        )
        request.client_auth_limits = limits
        refused = limits.refused_here()
        if refused is not None:
            raise refused
        limits.count_attempt()
        if unreadable is not None:
            raise unreadable
        return True

    def wait(self) -> float | None:
        return None  # refusals are raised as RateLimited, naming the limit reached
