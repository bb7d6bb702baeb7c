"""A fresh-eyes review of the console (pt-BR), through Django's test client: each wrong allowlist entry
says what is wrong with it (not an address, a prefix too long, a range not ending in zeros); revoking
selected tokens brings staff back to the list as they had filtered it; and the notifications list's
"Evento" filter offers the events by name."""

from io import StringIO

import jwt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clients.models import ClientAuthPolicy
from notifications.events import COMMUNITY_DEACTIVATED, SECRET_ROTATED
from notifications.models import Notification
from tests.conftest import issue_token
from tests.test_admin import url
from tests.test_console_safety import login
from tokens.models import IssuedToken

pytestmark = pytest.mark.django_db

NOT_AN_ADDRESS = "não é um endereço IP nem uma faixa CIDR"
ENDS_IN_ZEROS = "precisa terminar em zeros"


# --- 1. each wrong allowlist entry, its own reason ------------------------------------------------


def _policy_form_error(client, community, entry: str) -> str:
    page = url("clients_clientauthpolicy_set", community.pk)
    posted = {"methods": ["client_secret"], "dpop": "off", "allowed_ips": entry, "reason": "office"}
    response = client.post(page, posted)
    assert response.status_code == 200  # the form again, with its error
    assert not ClientAuthPolicy.objects.filter(community=community).exists()
    text = response.content.decode()
    return text.split('class="errorlist', 1)[1].split("</ul>", 1)[0]


@pytest.mark.parametrize(
    "entry, says, never",
    [
        ("abc", [NOT_AN_ADDRESS, "como 203.0.113.7 ou 10.0.0.0/8"], [ENDS_IN_ZEROS]),
        ("10.0.0.0/33", ["no máximo 32", "IPv4"], [ENDS_IN_ZEROS, NOT_AN_ADDRESS]),
        ("2001:db8::/129", ["no máximo 128", "IPv6"], [ENDS_IN_ZEROS, NOT_AN_ADDRESS]),
        ("10.0.0.0/abc", ["de 0 a 32"], [ENDS_IN_ZEROS]),
        ("10.1.2.3/8", [ENDS_IN_ZEROS, "Você quis dizer 10.0.0.0/8?"], [NOT_AN_ADDRESS]),
        ("2001:db8::1/32", [ENDS_IN_ZEROS, "Você quis dizer 2001:db8::/32?"], [NOT_AN_ADDRESS]),
    ],
)
def test_each_wrong_allowlist_entry_says_what_is_wrong_with_it(client, acme, entry, says, never):
    login(client, "sue", "security")
    error = _policy_form_error(client, acme.community, entry)
    assert entry in error or entry.replace("::", "&#x3A;&#x3A;") in error or entry.split("/")[0] in error
    for words in says:
        assert words in error, error
    for words in never:
        assert words not in error, error


@pytest.mark.parametrize(
    "entry, says",
    [
        ("abc", NOT_AN_ADDRESS),
        ("10.0.0.0/33", "no máximo 32"),
        ("2001:db8::/129", "no máximo 128"),
        ("10.1.2.3/8", "Você quis dizer 10.0.0.0/8?"),
    ],
)
def test_set_client_auth_gives_the_same_reasons(acme, entry, says):
    with pytest.raises(CommandError) as refused:
        call_command("set_client_auth", "acme", "--allowed-ips", entry, stdout=StringIO(), stderr=StringIO())
    assert says in str(refused.value)
    assert not ClientAuthPolicy.objects.exists()


# --- 2. back to the list as it was filtered ---------------------------------------------------------


def test_revoking_selected_tokens_returns_to_the_filtered_list(api, client, acme, globex):
    login(client, "sam", "support")
    jtis = [jwt.decode(issue_token(api, acme), options={"verify_signature": False})["jti"] for _ in range(2)]
    issue_token(api, globex)
    filtered = f"community__id__exact={acme.community.pk}&state=active"
    changelist = url("tokens_issuedtoken_changelist") + "?" + filtered
    selected = {"action": "revoke_selected", "_selected_action": jtis}
    confirm = client.post(changelist, selected)
    assert confirm.status_code == 200 and "confirm-form" in confirm.content.decode()
    cancel = confirm.content.decode().split('class="button cancel-link"', 1)[0].rsplit('href="', 1)[1]
    assert cancel.split('"', 1)[0].replace("&amp;", "&").endswith("?" + filtered)

    done = client.post(changelist, {**selected, "confirm": "1", "reason": "lost laptop"})
    assert done.status_code == 302 and done["Location"].endswith("?" + filtered)
    assert IssuedToken.objects.filter(jti__in=jtis, revoked_at__isnull=False).count() == 2


def test_nothing_to_revoke_also_returns_to_the_filtered_list(api, client, acme):
    login(client, "sam", "support")
    jti = jwt.decode(issue_token(api, acme), options={"verify_signature": False})["jti"]
    IssuedToken.objects.filter(jti=jti).update(revoked_at=IssuedToken.objects.get(jti=jti).issued_at)
    filtered = f"community__id__exact={acme.community.pk}"
    changelist = url("tokens_issuedtoken_changelist") + "?" + filtered
    done = client.post(changelist, {"action": "revoke_selected", "_selected_action": [jti]})
    assert done.status_code == 302 and done["Location"].endswith("?" + filtered)


# --- 3. the notifications list's "Evento" filter -------------------------------------------------


def _filter_box(text: str, title: str) -> str:
    return text.split(f'data-filter-title="{title}"', 1)[1].split("</details>", 1)[0]


def test_the_event_filter_lists_the_events_by_name_and_filters(client, acme, globex):
    for event_type, community in ((COMMUNITY_DEACTIVATED, acme), (SECRET_ROTATED, globex)):
        Notification.objects.create(
            community=community.community, event_type=event_type, channel="email", recipient="sec@x.example"
        )
    login(client, "sam", "support")
    changelist = url("notifications_notification_changelist")
    box = _filter_box(client.get(changelist).content.decode(), "evento")
    assert "Todos" in box
    assert "comunidade desativada" in box and "segredo trocado" in box and "segredo vazado" in box
    assert f"event_type={COMMUNITY_DEACTIVATED}" in box

    page = client.get(changelist, {"event_type": COMMUNITY_DEACTIVATED}).content.decode()
    rows = page.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert "comunidade desativada" in rows and f'title="{COMMUNITY_DEACTIVATED}"' in rows
    assert "segredo trocado" not in rows
    assert '<li class="selected">\n    <a href="?event_type=community.deactivated">' in page
    assert "1 notificação" in page
