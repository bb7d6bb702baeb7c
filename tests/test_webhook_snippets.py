"""The webhook verification snippets partners copy (README and both partner guides), in Python and
Node.js, run as written against a real signed delivery: they accept it, and refuse it altered."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from notifications.services import notifications_deliver_due, security_contacts_set
from tests.conftest import TEST_ACTOR
from tests.receivers import WebhookReceiver
from tokens.services import community_deactivate

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", "docs/partner-guide.md", "docs/guia-do-parceiro.md"]
NODE_RUNNER = """
const { bfluenceEvent } = require("./verify.js");
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
try {
  const event = bfluenceEvent(input.secret, input.headers, Buffer.from(input.body, "base64"));
  console.log(JSON.stringify(event));
} catch (error) {
  console.error(error.message);
  process.exit(3);
}
"""


def snippet(document: str, name: str) -> str:
    text = (ROOT / document).read_text()
    found = re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)\n```", text, re.S)
    assert found, f"{document} has no example {name}"
    return found.group(1)


@pytest.fixture
def delivery(acme, settings):
    receiver = WebhookReceiver()
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_CA_BUNDLE = receiver.cert
    change = security_contacts_set(community=acme.community, actor=TEST_ACTOR, webhook_url=receiver.url)
    receiver.secret = change.webhook_secret
    community_deactivate(community=acme.community, actor=TEST_ACTOR)
    assert notifications_deliver_due().delivered == 1
    [(headers, body)] = receiver.raw
    receiver.close()
    return change.webhook_secret, headers, body


@pytest.mark.parametrize("document", DOCUMENTS)
def test_python_snippet_verifies_a_real_delivery(delivery, document):
    secret, headers, body = delivery
    namespace: dict = {}
    exec(compile(snippet(document, "webhook-python"), document, "exec"), namespace)
    event = namespace["bfluence_event"](secret, headers, body)
    assert (event["type"], event["data"]["client_id"]) == ("community.deactivated", "acme")
    with pytest.raises(WebhookVerificationError):
        namespace["bfluence_event"](secret, headers, body.replace(b"acme", b"evil"))


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
@pytest.mark.parametrize("document", DOCUMENTS)
def test_node_snippet_verifies_a_real_delivery(delivery, document, tmp_path):
    import base64

    secret, headers, body = delivery
    (tmp_path / "verify.js").write_text(snippet(document, "webhook-node"))
    (tmp_path / "run.js").write_text(NODE_RUNNER)

    def run(raw: bytes) -> subprocess.CompletedProcess:
        data = json.dumps({"secret": secret, "headers": headers, "body": base64.b64encode(raw).decode()})
        return subprocess.run(
            ["node", "run.js"], cwd=tmp_path, input=data, capture_output=True, text=True, timeout=30
        )

    accepted = run(body)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["type"] == "community.deactivated"
    refused = run(body.replace(b"acme", b"evil"))
    assert (refused.returncode, refused.stderr.strip()) == (3, "bad signature")
