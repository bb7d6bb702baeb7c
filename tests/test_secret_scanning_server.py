"""The whole chain through a real gunicorn (SPEC §2.9): a signed report posted over HTTP, the key list
fetched over HTTP from a local stand-in for GitHub, the secret suspended in the shared test database,
and the server's own log free of the reported secret."""

import json
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from clients.models import ClientSecret
from tests.conftest import make_community
from tests.scanning import KeyServer, item, new_key, report, sign
from tests.stack import Gunicorn
from tokens.models import RevocationRequest

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER'] or ''}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_signed_report_through_gunicorn_suspends_the_secret():
    created = make_community("leaky")
    key = new_key()
    keys = KeyServer({"gh-1": key})
    server = Gunicorn(DATABASE_URL=_database_url(), SECRET_SCANNING_KEYS_URL=keys.url, LOG_LEVEL="DEBUG")
    try:
        body = report(item(created.client_secret, "https://gist.github.com/x/1"), item("bfl_sk_nope"))
        request = urllib.request.Request(
            f"{server.url}/security/secret-scanning",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Github-Public-Key-Identifier": "gh-1",
                "Github-Public-Key-Signature": sign(key, body),
            },
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            feedback = json.loads(response.read())
        assert [entry["label"] for entry in feedback] == ["true_positive", "false_positive"]
        assert keys.fetches == 1
        secret = ClientSecret.objects.get(community=created.community)
        assert secret.valid_until is not None and secret.reported_leaked_at is not None
        assert RevocationRequest.objects.get(community=created.community).source == "secret_scanning"
        log = Path(server.log.name).read_text(errors="replace")
        assert created.client_secret[len("bfl_sk_") :] not in log
    finally:
        server.stop()
        keys.stop()
