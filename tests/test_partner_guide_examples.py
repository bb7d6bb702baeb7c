"""The partner guides' examples for stronger authentication (issue 15), run as written against a live
server: each fenced block after an ``<!-- example: NAME -->`` marker, in both languages."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clients.services import PolicyChange, client_auth_policy_set, client_key_add
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import private_key, public_pem
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDES = ["partner-guide.md", "guia-do-parceiro.md"]


def example(guide: str, name: str) -> str:
    text = (DOCS / guide).read_text()
    found = re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)\n```", text, re.S)
    assert found, f"{guide} has no example {name}"
    return found.group(1)


@pytest.fixture
def partner(live_server, tmp_path, monkeypatch):
    created = make_community("guideco", members={"123": 1500})
    key = private_key("ES256", fresh=True)
    (tmp_path / "partner-key.pem").write_bytes(key.as_pem(private=True))
    client_key_add(community=created.community, key_text=public_pem(key), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community,
        actor=TEST_ACTOR,
        change=PolicyChange(methods=["client_secret", "private_key_jwt"], dpop="optional"),
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BFL_BASE_URL", live_server.url)
    monkeypatch.setenv("BFL_CLIENT_ID", "guideco")
    monkeypatch.setenv("BFL_CLIENT_SECRET", created.client_secret)
    return created


@pytest.mark.parametrize("guide", GUIDES)
def test_private_key_jwt_example_with_authlib(partner, guide):
    namespace: dict = {}
    exec(compile(example(guide, "private-key-jwt"), guide, "exec"), namespace)
    assert namespace["balance"]["bflus"] == 1500
    assert IssuedToken.objects.get().client_secret_id is None


@pytest.mark.parametrize("guide", GUIDES)
def test_dpop_example(partner, guide):
    namespace: dict = {}
    exec(compile(example(guide, "dpop"), guide, "exec"), namespace)
    assert namespace["balance"]["bflus"] == 1500
    assert namespace["response"].json()["token_type"] == "DPoP"


@pytest.mark.parametrize("guide", GUIDES)
def test_curl_private_key_jwt_example(partner, guide):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-e", "-c", example(guide, "curl-private-key-jwt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert '"token_type":"Bearer"' in result.stdout.replace(" ", "")
