"""Every code block of README.md and the two partner guides is run as written against a live server, or
is explicitly marked as not runnable.

Each fenced block is preceded by a marker the test reads from the Markdown itself:

- ``<!-- example: NAME -->``: run, in its own language (Python, Node.js, curl/shell, PHP where ``php``
  is installed), by the runner NAME below, against a live server with the credentials in
  ``BFLUENCE_BASE_URL`` / ``BFLUENCE_CLIENT_ID`` / ``BFLUENCE_CLIENT_SECRET``;
- ``<!-- response: NAME -->``: an example answer, whose keys are compared with the live server's answer;
- ``<!-- illustrative: why -->`` (or a ``text`` fence): shown, not run.

A block with no marker, or with a name no runner knows, fails: a new snippet is either run or declared.
The example responses printed as ``# 202 {…}`` comments in shell blocks are checked against what the
block printed, key for key.
"""

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import time_machine
from django.utils import timezone

from audit.services import Actor
from clients.models import ClientSecret
from clients.services import PolicyChange, client_auth_policy_set, client_key_add, community_seed_demo
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import private_key, public_pem
from tests.stack import ROOT, server_env
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db(transaction=True)
DOCUMENTS = ["README.md", "docs/partner-guide.md", "docs/guia-do-parceiro.md"]
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[\w-]*)\s*$")
MARKER = re.compile(r"^<!-- (?P<kind>example|response|illustrative)(?::\s*(?P<name>.*?))? -->$")
# Tokens live two minutes on the test server (the community's own lifetime), so a jump of three minutes
# expires them and the renewal code of a snippet really runs.
TOKEN_LIFETIME = timedelta(minutes=2)


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    info: str
    kind: str | None
    name: str | None
    code: str

    @property
    def id(self) -> str:
        return f"{Path(self.document).name}:{self.name or self.line}"


def blocks(document: str) -> list[Block]:
    lines = (ROOT / document).read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = len(opening["indent"])
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        code = "\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n"
        before = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.match(before)
        found.append(
            Block(
                document=document,
                line=index + 1,
                info=opening["info"],
                kind=marker["kind"] if marker else None,
                name=marker["name"] if marker else None,
                code=code,
            )
        )
        index = end + 1
    return found


ALL_BLOCKS = [block for document in DOCUMENTS for block in blocks(document)]


def of_kind(kind: str) -> list[Block]:
    return [block for block in ALL_BLOCKS if block.kind == kind]


# --- the partner on the live server ---------------------------------------------------------------------


@dataclass
class Partner:
    url: str
    client_id: str
    client_secret: str
    directory: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The reader's shell: their three variables, and the project's Python first on the PATH (the
        ``python3``/``pip`` a reader would have installed ``requests`` with)."""
        return {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "BFLUENCE_BASE_URL": self.url,
            "BFLUENCE_CLIENT_ID": self.client_id,
            "BFLUENCE_CLIENT_SECRET": self.client_secret,
            **extra,
        }

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token",
            auth=(self.client_id, self.client_secret),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


@pytest.fixture
def partner(live_server, tmp_path, monkeypatch) -> Partner:
    created = make_community("guideco", members={"123": 1500}, token_lifetime=TOKEN_LIFETIME)
    key = private_key("ES256", fresh=True)
    (tmp_path / "partner-key.pem").write_bytes(key.as_pem(private=True))
    client_key_add(community=created.community, key_text=public_pem(key), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=created.community,
        actor=TEST_ACTOR,
        change=PolicyChange(methods=["client_secret", "private_key_jwt"], dpop="optional"),
    )
    partner = Partner(live_server.url, "guideco", created.client_secret, tmp_path)
    for name, value in partner.env().items():
        if name.startswith("BFLUENCE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # the reader's empty directory
    return partner


def run_python(block: Block) -> tuple[dict, str]:
    """In this process, so that time-machine moves the clock of the snippet and of the server alike."""
    namespace: dict = {"__name__": "__main__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block.code, block.id, "exec"), namespace)
    return namespace, printed.getvalue()


def run_shell(block: Block, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{block.id} exited {result.returncode}: {result.stderr[-2000:]}"
    return result.stdout


def json_objects(text: str) -> list[dict]:
    """Every top-level JSON object printed (curl -i prints bodies right after the headers, unterminated)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while (index := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index += 1
            continue
        if isinstance(value, dict):
            found.append(value)
        index = end
    return found


def documented_answers(block: Block) -> list[tuple[int, dict | None]]:
    """The ``# 200 {…}`` comments of a shell block: the status, and the body when it is whole JSON."""
    answers = []
    for status, rest in re.findall(r"^\s*# (\d{3})\b(.*)$", block.code, re.M):
        try:
            body = json.loads(rest.strip())
        except ValueError:
            body = None
        answers.append((int(status), body if isinstance(body, dict) else None))
    return answers


def assert_documented_answers_match(block: Block, output: str, *, statuses_shown: bool) -> None:
    answers = documented_answers(block)
    printed = json_objects(output)
    for _status, body in answers:
        if body is not None:
            assert any(set(found) == set(body) for found in printed), (
                f"{block.id}: the documented answer {body} has other keys than the server's {printed}"
            )
    if statuses_shown:
        actual = iter(int(code) for code in re.findall(r"HTTP/[\d.]+ (\d{3})", output))
        documented = [status for status, _body in answers]
        assert all(status in actual for status in documented), (documented, output[-3000:])


def assert_balance(output: str) -> None:
    assert re.search(r"""['"]?bflus['"]?:\s*1500\b""", output), output


# --- runners, by the name of the marker ---------------------------------------------------------------


def python_balance(block: Block, partner: Partner) -> None:
    _namespace, printed = run_python(block)
    assert_balance(printed)


def authlib_renews(block: Block, partner: Partner) -> None:
    namespace, printed = run_python(block)
    assert_balance(printed)
    session, url = namespace["session"], f"{partner.url}/communities/hub/client/123/get-bflus"
    with time_machine.travel(timezone.now() + TOKEN_LIFETIME + timedelta(minutes=1), tick=True):
        # The first token has expired (on the server too): the session fetches a new one by itself.
        assert session.get(url, timeout=10).json()["bflus"] == 1500
    assert IssuedToken.objects.count() == 2


def node_balance(block: Block, partner: Partner) -> None:
    script = partner.directory / "balance.mjs"
    script.write_text(block.code)
    result = subprocess.run(
        ["node", str(script)], env=partner.env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert_balance(result.stdout)


def php_balance(block: Block, partner: Partner) -> None:
    has_curl = shutil.which("php") and subprocess.run(
        ["php", "-r", 'exit(function_exists("curl_init") ? 0 : 1);'], capture_output=True, check=False
    )
    if not has_curl or has_curl.returncode != 0:
        pytest.skip("php with its curl extension is not installed here: the PHP snippet runs where it is")
    script = partner.directory / "balance.php"
    script.write_text(block.code)
    result = subprocess.run(
        ["php", str(script)], env=partner.env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert_balance(result.stdout)


def curl_token(block: Block, partner: Partner) -> None:
    output = run_shell(block, partner.env(), partner.directory)
    tokens = json_objects(output)
    assert len(tokens) == 2 and all(token["token_type"] == "Bearer" for token in tokens), output


def example_client(block: Block, partner: Partner) -> None:
    shutil.copy(ROOT / "examples" / "partner_client.py", partner.directory)  # the reader saved it
    output = run_shell(block, partner.env(), partner.directory)
    assert re.search(rf"member 123 of {partner.client_id}: 1500 bflus", output), output


def revoke(block: Block, partner: Partner) -> None:
    """As written: the block sets TOKEN itself (nothing in the reader's shell does), then revokes it."""
    output = run_shell(block, partner.env(), partner.directory)
    assert_documented_answers_match(block, output, statuses_shown=False)
    assert IssuedToken.objects.get().revoked_at is not None


def compromise(block: Block, partner: Partner) -> None:
    partner.token()
    output = run_shell(block, partner.env(), partner.directory)
    assert_documented_answers_match(block, output, statuses_shown=False)
    assert json_objects(output)[0]["secrets_suspended"] == 1
    assert not IssuedToken.objects.filter(revoked_at__isnull=True).exists()


def openssl_keys(block: Block, partner: Partner) -> None:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed on this machine")
    directory = partner.directory / "keys"
    directory.mkdir()
    run_shell(block, partner.env(), directory)
    assert (directory / "partner-key.pem").exists()
    # What the reader sends Bfluence is a key Bfluence accepts.
    community = ClientSecret.objects.get().community
    client_key_add(
        community=community, key_text=(directory / "partner-key.pub.pem").read_text(), actor=TEST_ACTOR
    )


def private_key_jwt(block: Block, partner: Partner) -> None:
    _namespace, printed = run_python(block)
    assert_balance(printed)
    assert IssuedToken.objects.get().client_secret_id is None


def curl_private_key_jwt(block: Block, partner: Partner) -> None:
    output = run_shell(block, partner.env(), partner.directory)
    assert json_objects(output)[0]["token_type"] == "Bearer"
    assert IssuedToken.objects.get().client_secret_id is None


def dpop(block: Block, partner: Partner) -> None:
    namespace, printed = run_python(block)
    assert_balance(printed)
    assert namespace["response"].json()["token_type"] == "DPoP"


def readme_walkthrough(block: Block, partner: Partner) -> None:
    """The README shows what ``dev.py serve`` prints for the demo; the reader's own values go in."""
    demo = community_seed_demo(actor=Actor.command("seed_demo"))
    code = block.code.replace("http://127.0.0.1:8000", partner.url).replace("bfl_sk_…", demo.client_secret)
    output = run_shell(Block(**{**block.__dict__, "code": code}), partner.env(), partner.directory)
    assert_documented_answers_match(block, output, statuses_shown=True)


_OPERATOR_DATABASE: dict[str, Path] = {}


def operator_env(partner: Partner) -> dict[str, str]:
    """A database of the operator's own (a second SQLite file, migrated once per run and copied)."""
    if "template" not in _OPERATOR_DATABASE:
        directory = tempfile.mkdtemp(prefix="bfluence-operator-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        template = Path(directory) / "template.sqlite3"
        env = server_env(DATABASE_URL=f"sqlite:///{template}", BFLUENCE_READ_DOTENV="false")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        _OPERATOR_DATABASE["template"] = template
    database = partner.directory / "operator.sqlite3"
    shutil.copyfile(_OPERATOR_DATABASE["template"], database)
    env = server_env(DATABASE_URL=f"sqlite:///{database}", BFLUENCE_READ_DOTENV="false")
    env["PATH"] = partner.env()["PATH"]
    return env


def operator_commands(block: Block, partner: Partner) -> None:
    """As an operator's shell runs them from a checkout. ``python3 dev.py manage`` is ``manage.py`` with
    the checkout's venv and its .env, so that is what runs (dev.py would write a .env into the tree)."""
    env = operator_env(partner)
    subprocess.run(
        [sys.executable, "manage.py", "create_community", "--client-id", "acme", "--name", "Acme"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    code = block.code.replace("python3 dev.py manage", f"{sys.executable} manage.py")
    output = run_shell(Block(**{**block.__dict__, "code": code}), env, ROOT)
    if "--json" in code:
        assert "client_secret" in json_objects(output)[0]


RUNNERS = {
    "curl-token": curl_token,
    "requests": python_balance,
    "example-client": example_client,
    "authlib": authlib_renews,
    "node": node_balance,
    "php": php_balance,
    "revoke": revoke,
    "compromise": compromise,
    "openssl-keys": openssl_keys,
    "private-key-jwt": private_key_jwt,
    "curl-private-key-jwt": curl_private_key_jwt,
    "dpop": dpop,
    "walkthrough": readme_walkthrough,
    "createsuperuser": operator_commands,
    "rotate-incident": operator_commands,
}


# --- responses, by the name of the marker -----------------------------------------------------------------


def token_response(partner: Partner) -> requests.Response:
    return requests.post(
        f"{partner.url}/auth/token",
        json={"client_id": partner.client_id, "client_secret": partner.client_secret},
        timeout=10,
    )


def bflus_response(partner: Partner) -> requests.Response:
    return requests.get(
        f"{partner.url}/communities/hub/client/123/get-bflus",
        headers={"Authorization": f"Bearer {partner.token()}"},
        timeout=10,
    )


def expired_token_response(partner: Partner) -> requests.Response:
    token = partner.token()
    with time_machine.travel(timezone.now() + TOKEN_LIFETIME + timedelta(minutes=1), tick=True):
        return requests.get(
            f"{partner.url}/communities/hub/client/123/get-bflus",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


RESPONSES = {"token": token_response, "bflus": bflus_response, "expired-token": expired_token_response}

# Examples run by another test module, against what they need (a real signed webhook delivery).
RUN_ELSEWHERE = {
    "webhook-python": "tests/test_webhook_snippets.py",
    "webhook-node": "tests/test_webhook_snippets.py",
}


# --- the tests ----------------------------------------------------------------------------------------------


def test_every_block_is_run_or_marked_illustrative():
    unmarked = [
        f"{block.document}:{block.line}"
        for block in ALL_BLOCKS
        if block.kind is None and block.info != "text"
    ]
    assert unmarked == [], (
        "mark each block <!-- example: NAME -->, <!-- response: NAME --> or <!-- illustrative: why -->"
    )
    unknown = [
        f"{block.document}:{block.line} {block.kind}: {block.name}"
        for block in ALL_BLOCKS
        if (block.kind == "example" and block.name not in RUNNERS and block.name not in RUN_ELSEWHERE)
        or (block.kind == "response" and block.name not in RESPONSES)
    ]
    assert unknown == []
    assert [f"{block.document}:{block.line}" for block in of_kind("illustrative") if not block.name] == [], (
        "say why a block is not run"
    )


def test_every_runner_runs_a_block():
    named = {block.name for block in of_kind("example")} | {block.name for block in of_kind("response")}
    assert set(RUNNERS) | set(RESPONSES) <= named


def test_the_guides_show_the_same_examples_in_both_languages():
    english, portuguese = (
        [(block.kind, block.name) for block in blocks(document) if block.kind != "illustrative"]
        for document in DOCUMENTS[1:]
    )
    assert english == portuguese


def test_one_naming_of_the_environment_variables():
    """The guides, the README and the example client all read BFLUENCE_CLIENT_ID / _SECRET / _BASE_URL."""
    texts = {name: (ROOT / name).read_text() for name in [*DOCUMENTS, "examples/partner_client.py"]}
    assert [name for name, text in texts.items() if re.search(r"\bBFL_[A-Z]", text)] == []
    for name in DOCUMENTS[1:]:
        assert all(
            variable in texts[name]
            for variable in ("BFLUENCE_BASE_URL", "BFLUENCE_CLIENT_ID", "BFLUENCE_CLIENT_SECRET")
        )


def test_the_portuguese_guide_says_segredo():
    """ "secret" only inside code: field, variable and event names (client_secret, `secret.leaked`, …)."""
    text = (ROOT / "docs/guia-do-parceiro.md").read_text()
    text = re.sub(r"^ *```.*?^ *```", "", text, flags=re.S | re.M)  # code blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    assert re.findall(r"(?<![\w_])secrets?(?![\w_])", text, re.I) == []


def test_the_examples_run_elsewhere_are_run_there():
    for name, module in RUN_ELSEWHERE.items():
        assert f'"{name}"' in (ROOT / module).read_text(), (name, module)


@pytest.mark.parametrize(
    "block", [block for block in of_kind("example") if block.name in RUNNERS], ids=lambda block: block.id
)
def test_example(block, partner):
    RUNNERS[block.name](block, partner)


@pytest.mark.parametrize("block", of_kind("response"), ids=lambda block: block.id)
def test_documented_response_has_the_live_servers_keys(block, partner):
    documented = json.loads(block.code)
    live = RESPONSES[block.name](partner)
    assert set(live.json()) == set(documented), (live.status_code, live.json())
