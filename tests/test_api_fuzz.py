"""Schema-driven fuzzing (schemathesis) against a live test server: no 5xx, and no response that
contradicts the published OpenAPI document. Bounded: a fixed number of examples per operation."""

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import make_community
from tests.stack import http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner_token(live_server):
    partner = make_community("fuzzco", members={"123": 10})
    status, body = http(
        "POST",
        f"{live_server.url}/auth/token",
        {"client_id": "fuzzco", "client_secret": partner.client_secret},
    )
    assert status == 200
    return body["access_token"]


def load_schema(base_url: str):
    with urllib.request.urlopen(f"{base_url}/api/schema/?format=json") as response:
        return schemathesis.openapi.from_dict(json.load(response))


def test_every_operation_honours_its_schema(live_server, partner_token):
    schema = load_schema(live_server.url)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every published operation is fuzzed; the list is pinned so a new endpoint is a conscious change here.
    assert sorted(op.label for op in operations) == [
        "GET /.well-known/oauth-authorization-server",
        "GET /auth/me",
        "GET /communities/{community}/client/{client}/get-bflus",
        "GET /healthz",
        "GET /readyz",
        "POST /auth/revocation-requests",
        "POST /auth/revoke",
        "POST /auth/token",
        "POST /security/secret-scanning",
    ]

    for operation in operations:
        needs_token = operation.path in {"/auth/me", "/communities/{community}/client/{client}/get-bflus"}

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def honours_schema(case):
            # A valid token where the operation takes one; hostile Authorization headers have their own
            # tests (test_hostile_input). Client-authenticated operations get no header: the body carries it.
            headers = {"Authorization": f"Bearer {partner_token}"} if needs_token else {}  # noqa: B023 (called at once)
            case.call_and_validate(base_url=live_server.url, headers=headers)

        honours_schema()
