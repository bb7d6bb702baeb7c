"""The small rules under client policies and settings, at their edges: IP allowlists, trusted proxies,
durations. Pure functions: no database, no request."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from bfluence.durations import format_duration, parse_duration
from bfluence.source_ip import parse_trusted_proxies
from clients.policy import MAX_ALLOWED_NETWORKS, ip_in, networks_normalise


def test_an_allowlist_admits_only_known_addresses_inside_it():
    assert ip_in("10.1.2.3", ("10.0.0.0/8",))
    assert ip_in("::ffff:10.1.2.3", ("10.0.0.0/8",))  # IPv4 through a dual-stack socket: judged as IPv4
    assert not ip_in(None, ("10.0.0.0/8",))  # unknown address: never inside
    assert not ip_in("not an address", ("10.0.0.0/8",))
    assert not ip_in("2001:db8::1", ("10.0.0.0/8",))


def test_staff_networks_are_normalised_or_refused_with_a_reason():
    assert networks_normalise(["", " 10.0.0.0/8 ", "10.0.0.0/8", "203.0.113.7"]) == [
        "10.0.0.0/8",
        "203.0.113.7/32",
    ]
    with pytest.raises(ValidationError, match="faixa CIDR"):  # in the staff language (pt-BR)
        networks_normalise(["10.0.0.1/8"])
    with pytest.raises(ValidationError, match="IPv4 simples"):
        networks_normalise(["::ffff:10.0.0.0/104"])
    with pytest.raises(ValidationError, match="No máximo"):
        networks_normalise([f"10.0.{n // 256}.{n % 256}" for n in range(MAX_ALLOWED_NETWORKS + 1)])


def test_trusted_proxies_refuse_a_count_and_anything_that_is_no_network():
    assert parse_trusted_proxies(["", "10.0.0.5", "10.0.0.0/8"])[1].prefixlen == 8
    with pytest.raises(ValueError, match="not a count"):
        parse_trusted_proxies(["1"])
    with pytest.raises(ValueError, match="not an IP address"):
        parse_trusted_proxies(["proxy.internal"])


def test_durations_read_and_write_as_operators_type_them():
    assert parse_duration(" 90s ") == timedelta(seconds=90)
    assert parse_duration("7d") == timedelta(days=7)
    for bad in ("", "90", "1.5h", "-1m", None):
        with pytest.raises(ValueError, match="invalid duration"):
            parse_duration(bad)
    assert [format_duration(timedelta(seconds=s)) for s in (0, 90, 120, 7200, 86400)] == [
        "0s",
        "90s",
        "2m",
        "2h",
        "1d",
    ]
