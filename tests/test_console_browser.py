"""SPEC §5a in Chromium: each secret-revealing action shows its secret once whatever the browser does,
sudo mode, each role against each action, a console error page, and the usage chart with data."""

import re
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import AuditEvent
from audit.services import Actor
from clients.crypto import generate_secret
from clients.models import ClientAuthPolicy, ClientKey, ClientSecret
from communities.models import Community
from tests.browser import chromium_page, needs_chromium, pass_second_factor, screenshot, staff_groups  # noqa: F401
from tests.conftest import TEST_ACTOR, make_community
from tests.keyfactory import private_key, public_pem
from tests.stack import http
from tokens.models import RevocationRequest

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
]
SECRET = re.compile(r"bfl_sk_[A-Za-z0-9]{49}")
PASSWORD = "a-long-password-for-staff"


def staff_user(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def sign_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    pass_second_factor(page, username)
    expect(page.locator("#content")).to_be_visible()
    assert "/second-factor/" not in page.url


def fresh_code(username: str) -> str:
    """The app's code now, for a prompt after the sign-in's own code (a code is accepted once)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import totp_code

    user = User.objects.get(username=username)
    TOTPDevice.objects.filter(user=user).update(last_t=-1)
    code = totp_code(user)
    connections.close_all()
    return code


def secrets_of(client_id: str) -> int:
    count = ClientSecret.objects.filter(community__client_id=client_id).count()
    connections.close_all()  # work done under Playwright's loop: never leave its connection open
    return count


def submit_and_read_secret(page) -> tuple[str, object]:
    """Submit the form on screen; return the secret read from the one-time page and the POST sent."""
    with page.expect_request(lambda request: request.method == "POST") as posted:
        page.click("#page-form input[type=submit]")
    expect(page.locator("#client-secret")).to_be_visible()
    assert "/admin/console/secret/" in page.url
    return page.inner_text("#client-secret").strip(), posted.value


def assert_never_again(page, base: str, post, *, client_id: str, secrets: int) -> None:
    """Reload, Back, Forward, "I have stored it" then Back, and the same POST again: no second secret."""
    page.reload()
    expect(page.locator("#secret-gone")).to_be_visible()
    page.go_back()
    assert not SECRET.search(page.content())
    page.go_forward()
    expect(page.locator("#secret-gone")).to_be_visible()
    replay = page.request.post(
        post.url,
        data=post.post_data,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": base, "Referer": post.url},
    )
    assert replay.status == 200 and "/admin/console/done/" in replay.url  # what was done, not done again
    assert not SECRET.search(replay.text())
    assert secrets_of(client_id) == secrets


def test_every_secret_revealing_action_shows_its_secret_once_whatever_the_browser_does(live_server, tmp_path):
    base = live_server.url
    staff_user("sue", "security")
    staff_user("tom", "security")
    with chromium_page() as page:
        sign_in(page, base, "sue")

        # Onboarding.
        page.goto(f"{base}/admin/communities/community/add/")
        page.fill("#id_client_id", "onceco")
        page.fill("#id_name", "Once Co")
        page.check("input[name=permissions][value='bflus:read']")
        first, post = submit_and_read_secret(page)
        assert SECRET.fullmatch(first)
        page.click("#secret-stored")  # "I have stored it", then Back onto the one-time page
        page.go_back()
        expect(page.locator("#secret-gone")).to_be_visible()
        assert_never_again(page, base, post, client_id="onceco", secrets=1)

        # Rotation.
        community = Community.objects.get(client_id="onceco")
        page.goto(f"{base}/admin/communities/community/{community.pk}/change/")
        page.click("#rotate-secret")
        expect(page.locator("#id_grace")).to_have_value("24h")  # a sensible default for a routine rotation
        expect(page.locator(".breadcrumbs")).to_contain_text("Once Co")
        page.fill("#id_reason", "yearly rotation")
        second, post = submit_and_read_secret(page)
        assert second != first
        expect(page.locator("#secret-note")).to_contain_text(
            "Janela de tolerância: o segredo antigo funciona até"
        )
        # Even a throw-away test secret stays out of the repo's screenshots: masked before the picture.
        page.evaluate(
            "s => { document.getElementById('client-secret').textContent = s; }",
            "bfl_sk_" + "•" * 42 + " (mascarado na documentação)",
        )
        screenshot(page, "secret-once", tmp_path)
        assert_never_again(page, base, post, client_id="onceco", secrets=2)
        assert http("POST", f"{base}/auth/token", {"client_id": "onceco", "client_secret": second})[0] == 200

        # Completing a request the partner opened: another secret, once.
        status, _body = http(
            "POST",
            f"{base}/auth/revocation-requests",
            {"client_id": "onceco", "client_secret": second, "reason": "laptop stolen"},
        )
        assert status in (200, 201, 202)
        request = RevocationRequest.objects.get()
        connections.close_all()
        page.goto(f"{base}/admin/tokens/revocationrequest/{request.pk}/change/")
        page.click("#handle-request")
        expect(page.locator("#id_grace")).to_have_count(0)  # the reported secrets are suspended: no grace
        page.fill("#id_reason", "confirmed with the partner")
        third, post = submit_and_read_secret(page)
        assert third not in (first, second)
        assert_never_again(page, base, post, client_id="onceco", secrets=3)

    event = AuditEvent.objects.get(event_type="revocation_request_handled")
    assert (event.actor, event.source_ip, event.details["reason"]) == (
        "sue",
        "127.0.0.1",
        "confirmed with the partner",
    )


def test_a_stale_password_is_asked_for_before_a_secret_is_created(live_server):
    base = live_server.url
    staff_user("sue", "security")
    community = make_community("sudoco").community
    connections.close_all()
    with chromium_page() as page:
        sign_in(page, base, "sue")
        rotate = f"{base}/admin/communities/community/{community.pk}/rotate-secret/"
        page.goto(rotate)
        expect(page.locator("#page-form")).to_be_visible()  # just signed in: no prompt
        with time_machine.travel(time.time() + 11 * 60, tick=True):
            page.goto(rotate)
            expect(page.locator("#confirm-password-form")).to_be_visible()
            page.fill("#id_password", "not-my-password")
            page.click("#confirm-password-form input[type=submit]")
            expect(page.locator(".errorlist")).to_be_visible()
            page.fill("#id_password", PASSWORD)
            page.fill("#id_code", fresh_code("sue"))
            page.click("#confirm-password-form input[type=submit]")
            expect(page.locator("#page-form")).to_be_visible()
            assert page.url == rotate
            page.fill("#id_reason", "after confirming")
            secret, _post = submit_and_read_secret(page)
    assert SECRET.fullmatch(secret) and secrets_of("sudoco") == 2


def test_each_role_against_each_action_including_open_then_complete(live_server, tmp_path):
    base = live_server.url
    staff_user("sam", "support")
    staff_user("sue", "security")
    staff_user("tom", "security")
    created = make_community("roleco")
    community = created.community
    connections.close_all()
    token = {"client_id": community.client_id, "client_secret": created.client_secret}
    assert http("POST", f"{base}/auth/token", token)[0] == 200  # something to revoke: the link shows
    change = f"{base}/admin/communities/community/{community.pk}/change/"
    with chromium_page() as page:
        sign_in(page, base, "sam")
        page.goto(change)
        expect(page.locator("#revoke-tokens")).to_be_visible()
        for control in ("#rotate-secret", "#deactivate", "#stop-previous-secret"):
            expect(page.locator(control)).to_have_count(0)
        for path in (
            f"communities/community/{community.pk}/rotate-secret/",
            "communities/community/add/",
            f"communities/community/{community.pk}/deactivate/",
        ):
            response = page.goto(f"{base}/admin/{path}")
            assert response.status == 403
            expect(page.locator("#console-error")).to_be_visible()  # a console page, not API JSON
            assert '"error"' not in page.content() and "#user-tools"
        screenshot(page, "console-forbidden", tmp_path)

        # Support opens a request (the form warns it revokes at once) but cannot complete it.
        page.goto(f"{base}/admin/tokens/revocationrequest/add/")
        expect(page.locator("#form-warning")).to_be_visible()
        page.select_option("#id_community", str(community.pk))
        page.fill("#id_reason", "partner phoned: leaked secret")
        page.click("input[name=_save]")
        opened = RevocationRequest.objects.get()
        connections.close_all()
        page.goto(f"{base}/admin/tokens/revocationrequest/{opened.pk}/change/")
        expect(page.locator("#handle-request")).to_have_count(0)
        assert page.goto(f"{base}/admin/tokens/revocationrequest/{opened.pk}/handle/").status == 403

        # Security may complete what someone else opened, but not a request of their own.
        sign_in(page, base, "sue")
        page.goto(f"{base}/admin/tokens/revocationrequest/add/")
        page.select_option("#id_community", str(community.pk))
        page.fill("#id_reason", "second report")
        page.click("input[name=_save]")
        expect(page.locator("#pending-request")).to_contain_text("já tem um pedido de revogação pendente")
        page.check("#id_open_another")  # the pending request was named, with its link, before saving
        page.click("input[name=_save]")
        expect(page.locator(".messagelist .success")).to_contain_text("401")
        own = RevocationRequest.objects.get(opened_by="staff:sue")
        connections.close_all()
        page.goto(f"{base}/admin/tokens/revocationrequest/{own.pk}/change/")
        expect(page.locator("#handle-blocked")).to_be_visible()
        expect(page.locator("#handle-request")).to_have_count(0)
        page.goto(f"{base}/admin/tokens/revocationrequest/{own.pk}/handle/")
        expect(page.locator(".messagelist .error")).to_be_visible()
        assert secrets_of("roleco") == 1

        page.goto(f"{base}/admin/tokens/revocationrequest/{opened.pk}/change/")
        page.click("#handle-request")
        page.fill("#id_reason", "completing sam's request")
        secret, _post = submit_and_read_secret(page)
        assert SECRET.fullmatch(secret)

        sign_in(page, base, "tom")
        page.goto(f"{base}/admin/tokens/revocationrequest/{own.pk}/change/")
        page.click("#handle-request")
        page.fill("#id_reason", "completing sue's request")
        # Completing sam's request handed over a secret since sue's was opened: ending it takes the box.
        expect(page.locator("#form-danger")).to_contain_text("encerra na hora este segredo")
        expect(page.locator("#ending-secrets li")).to_contain_text("depois que este pedido foi aberto")
        screenshot(page, "complete-with-newer-secret", tmp_path)
        page.check("#id_end_newer_secret")
        submit_and_read_secret(page)
    assert secrets_of("roleco") == 3
    assert set(RevocationRequest.objects.values_list("status", flat=True)) == {"done"}


def test_the_community_page_charts_its_usage_and_the_queue_flags_old_requests(live_server, tmp_path):
    base = live_server.url
    staff_user("sam", "support")
    created = make_community("chartco", members={"123": 700})
    community = created.community
    connections.close_all()
    for _ in range(3):
        assert (
            http(
                "POST", f"{base}/auth/token", {"client_id": "chartco", "client_secret": created.client_secret}
            )[0]
            == 200
        )
    wrong = generate_secret()  # well formed, so the attempt reaches the database and the audit trail
    for _ in range(2):
        assert http("POST", f"{base}/auth/token", {"client_id": "chartco", "client_secret": wrong})[0] == 401
    # Earlier days, as the audit trail would hold them.
    for days_ago, count in ((3, 4), (10, 2)):
        AuditEvent.objects.filter(
            pk__in=[
                AuditEvent.objects.create(
                    event_type="token_issued", actor_type="partner", actor="chartco", community=community
                ).pk
                for _ in range(count)
            ]
        ).update(occurred_at=timezone.now() - timedelta(days=days_ago))
    RevocationRequest.objects.filter(
        pk=RevocationRequest.objects.create(
            community=community,
            reason="partner e-mailed: a contractor kept the secret",
            opened_by="partner:chartco",
        ).pk
    ).update(created_at=timezone.now() - timedelta(hours=3))
    RevocationRequest.objects.create(
        community=community, reason="second report, by phone", opened_by="staff:sam"
    )
    connections.close_all()

    with chromium_page() as page:
        sign_in(page, base, "sam")
        page.goto(f"{base}/admin/communities/community/{community.pk}/change/")
        chart = page.locator("#usage-chart")
        expect(chart).to_be_visible()
        assert (chart.get_attribute("data-issued"), chart.get_attribute("data-failed")) == ("9", "2")
        expect(page.locator("#usage-issued")).to_have_text("9")
        expect(page.locator("#usage-failed")).to_have_text("2")
        assert page.locator("#usage-chart rect.bar-issued").count() == 30
        heights = [
            float(bar.get_attribute("height")) for bar in page.locator("#usage-chart rect.bar-issued").all()
        ]
        assert sum(1 for height in heights if height > 0) == 3
        assert chart.bounding_box()["width"] > 300
        expect(page.locator("#history-links")).to_contain_text("2 pedidos de revogação")
        expect(page.locator("#console-zone")).to_have_text("Horário de Brasília")
        screenshot(page, "community-usage", tmp_path)

        page.goto(f"{base}/admin/tokens/revocationrequest/")
        rows = page.locator("#result_list tbody tr")
        expect(rows.first).to_contain_text("contractor")  # the oldest pending first
        expect(rows.first.locator(".waiting-late")).to_be_visible()
        expect(rows.nth(1).locator(".waiting-late")).to_have_count(0)
        screenshot(page, "request-queue", tmp_path)

        page.goto(f"{base}/admin/tokens/issuedtoken/")
        page.screenshot(path=str(tmp_path / "issued-tokens.png"), full_page=True)
        table = page.locator("#result_list").bounding_box()
        assert table["x"] + table["width"] <= 1280  # readable at 1280 px, no sideways scrolling


# --- round 3: no silent cut-off, key registration, layout ------------------------------------------


@contextmanager
def watched_page(width: int = 1280, height: int = 900, *, back_forward_cache: bool = False):
    """A pt-BR Chromium page that fails the test on any console error or uncaught script error (a CSP
    refusal is a console error too)."""
    errors: list[str] = []
    with chromium_page(back_forward_cache=back_forward_cache) as page:
        page.set_viewport_size({"width": width, "height": height})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
    assert errors == [], errors


def test_back_then_submit_after_a_rotation_is_refused_and_a_rotation_in_grace_needs_the_box(
    live_server, tmp_path
):
    base = live_server.url
    staff_user("sue", "security")
    community = make_community("backco").community
    connections.close_all()
    rotate = f"{base}/admin/communities/community/{community.pk}/rotate-secret/"
    with watched_page() as page:
        sign_in(page, base, "sue")
        page.goto(rotate)
        page.fill("#id_reason", "yearly rotation")
        submit_and_read_secret(page)  # 24 h grace: the first secret keeps working beside the new one
        assert secrets_of("backco") == 2

        page.go_back()  # the browser fetches the form again; its history entry keeps the key already used
        expect(page.locator("#page-form")).to_be_visible()
        page.click("#page-form input[type=submit]")
        expect(page.locator("#form-done")).to_be_visible()
        expect(page.locator("#form-done-summary")).to_contain_text("foi trocado")
        screenshot(page, "form-already-sent", tmp_path)
        assert secrets_of("backco") == 2

        # Acting again is a new visit to the form (a new key), and then the older secret's end is spelled out.
        page.goto(rotate)
        expect(page.locator("#form-danger")).to_be_visible()
        expect(page.locator("#form-danger")).to_contain_text("ainda funciona até")
        expect(page.locator("#form-danger")).to_contain_text("Último uso: nunca")
        page.fill("#id_reason", "second rotation")
        page.click("#page-form input[type=submit]")
        expect(page.locator(".errorlist")).to_contain_text("Marque a caixa")
        assert secrets_of("backco") == 2
        screenshot(page, "rotate-in-grace", tmp_path)
        page.check("#id_end_secret_in_grace")
        submit_and_read_secret(page)
    assert secrets_of("backco") == 3
    event = AuditEvent.objects.filter(event_type="secret_rotated").latest("id")
    assert len(event.details["ended_hints"]) == 1


def test_back_after_a_second_rotation_shows_the_rotate_page_afresh_not_as_it_was_filled_in(live_server):
    base = live_server.url
    staff_user("sue", "security")
    community = make_community("freshco").community
    connections.close_all()
    rotate = f"{base}/admin/communities/community/{community.pk}/rotate-secret/"
    with watched_page(back_forward_cache=True) as page:  # as people browse: Back may restore a kept page
        sign_in(page, base, "sue")
        page.goto(rotate)
        page.fill("#id_reason", "yearly rotation")
        submit_and_read_secret(page)  # the first secret keeps its grace window beside the second
        first, second = ClientSecret.objects.filter(community=community).order_by("pk")
        connections.close_all()

        page.goto(rotate)  # the first secret in grace: the box names it
        page.fill("#id_reason", "second rotation")
        page.check("#id_end_secret_in_grace")
        expect(page.locator("#form-danger")).to_contain_text(first.hint)
        submit_and_read_secret(page)  # the first secret ends; the second now has the grace window

        page.go_back(wait_until="commit")
        expect(page.locator("#page-form")).to_be_visible()
        # Drawn again from the server: the secret a rotation now would end is the second, the one the
        # partner uses; nothing typed or ticked before comes back.
        expect(page.locator("#form-danger")).to_contain_text(second.hint)
        expect(page.locator("#form-danger")).not_to_contain_text(first.hint)
        expect(page.locator("#id_end_secret_in_grace")).not_to_be_checked()
        expect(page.locator("#id_reason")).to_have_value("")
    assert secrets_of("freshco") == 3


# How many lines each of the policy form's method choices takes ("Assinatura com a / chave do parceiro").
LINES_PER_METHOD = """() => [...document.querySelectorAll('#id_methods label')].map(label => {
    const tops = new Set();
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const rect of range.getClientRects()) if (rect.width > 0) tops.add(Math.round(rect.top));
    }
    return tops.size;
})"""


def test_a_policy_that_locks_the_partner_out_needs_confirmation(live_server, tmp_path):
    base = live_server.url
    staff_user("sue", "security")
    community = make_community("lockco").community
    connections.close_all()
    with watched_page() as page:
        sign_in(page, base, "sue")
        page.goto(f"{base}/admin/clients/clientauthpolicy/set/{community.pk}/")
        expect(page.locator("#page-form")).to_contain_text("Segredo do parceiro")
        expect(page.locator("#id_dpop")).to_contain_text("Desligado")
        assert page.evaluate(LINES_PER_METHOD) == [1, 1]  # the choices use the form's width (1280 px)
        page.uncheck("input[name=methods][value=client_secret]")
        page.check("input[name=methods][value=private_key_jwt]")
        page.fill("#id_allowed_ips", "10.0.0.1/8")
        page.fill("#id_reason", "moving to keys")
        page.click("#page-form input[type=submit]")
        expect(page.locator("#page-form .errorlist").first).to_contain_text("Você quis dizer 10.0.0.0/8?")
        page.fill("#id_allowed_ips", "")
        page.click("#page-form input[type=submit]")
        expect(page.locator("#form-danger")).to_contain_text("401")
        screenshot(page, "policy-lockout", tmp_path)
        assert not ClientAuthPolicy.objects.filter(community=community).exists()
        connections.close_all()
        page.check("#id_confirm_lockout")
        page.click("#page-form input[type=submit]")
        expect(page.locator(".messagelist .warning")).to_be_visible()
    assert ClientAuthPolicy.objects.get(community=community).allow_client_secret is False


def test_registering_a_key_end_to_end_and_retiring_the_last_one(live_server, tmp_path):
    base = live_server.url
    staff_user("sue", "security")
    community = make_community("keyco").community
    connections.close_all()
    key = private_key("ES256")
    with watched_page() as page:
        sign_in(page, base, "sue")
        page.goto(f"{base}/admin/clients/clientkey/add/")
        expect(page.locator("input[name=confirmed]")).to_have_count(0)  # no box before the fingerprint
        expect(page.locator("#cancel")).to_be_visible()
        page.select_option("#id_community", str(community.pk))
        page.fill("#id_public_key", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----")
        page.click("#show-fingerprint")
        expect(page.locator("#key-error")).to_contain_text("chave privada")
        page.fill("#id_public_key", public_pem(key))
        page.click("#show-fingerprint")
        expect(page.locator("#key-fingerprint")).to_have_text(key.thumbprint())
        assert page.locator("#key-fingerprint").bounding_box()["height"] >= 30  # large, to read out loud
        expect(page.locator("#compare-howto")).to_be_visible()
        page.click("#register-key")
        expect(page.locator("#confirm-row .errorlist")).to_contain_text("Marque a caixa")
        screenshot(page, "key-fingerprint", tmp_path)
        assert not ClientKey.objects.exists()
        connections.close_all()
        page.check("input[name=confirmed]")
        page.click("#register-key")
        # The default policy accepts secrets only: registered, and said to be unusable until it accepts keys.
        expect(page.locator(".messagelist .warning")).to_contain_text("não pode ser usada")
        stored = ClientKey.objects.get()
        connections.close_all()
        assert stored.thumbprint == key.thumbprint()

        page.click(".retire-key")
        expect(page.locator("#confirm-question")).to_contain_text("última chave ativa")
        page.fill("#id_reason", "partner rotated its key")
        page.click("#confirm-form input[type=submit]")
        expect(page.locator(".errorlist")).to_contain_text("Marque a caixa")
        page.check("#id_confirm_last")
        page.click("#confirm-form input[type=submit]")
        expect(page.locator(".messagelist .success")).to_contain_text("aposentada; 0 tokens revogados")
    assert ClientKey.objects.get().retired_at is not None


def _require_dpop(community) -> None:
    from clients.services import PolicyChange, client_auth_policy_set

    client_auth_policy_set(community=community, change=PolicyChange(dpop="required"), actor=TEST_ACTOR)


def _layout_data():
    from clients.services import PolicyChange, client_auth_policy_set, client_key_add
    from tests.conftest import TEST_ACTOR
    from tokens.services import revocation_request_open, tokens_revoke

    created = make_community("a-rather-long-client-id-for-layout.example", members={"123": 5})
    community = created.community
    # A long name in the page's heading, beside the page's buttons (TROCAR O SEGREDO … HISTÓRICO).
    community.name = "Associação Comercial e Industrial de São José dos Campos"
    community.save(update_fields=["name"])
    for alg in ("ES256", "RS256"):
        client_key_add(community=community, key_text=public_pem(private_key(alg)), actor=TEST_ACTOR)
    client_auth_policy_set(
        community=community,
        change=PolicyChange(
            methods=["client_secret", "private_key_jwt"], allowed_ips=["127.0.0.1", "203.0.113.0/24"]
        ),
        actor=TEST_ACTOR,
    )
    return created, community, (revocation_request_open, tokens_revoke)


ACTIONS = "#content a.button, #content input[type=submit], #content .retire-key, #content .revoke-one, #result_list a"


def assert_no_clipped_action(page, width: int) -> int:
    """Every visible action's box lies inside the viewport and inside the box of its scroll container."""
    boxes = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].filter(e => e.offsetParent !== null).map(e => {
            const r = e.getBoundingClientRect();
            let c = e.parentElement;
            while (c && c !== document.body) {
              const s = getComputedStyle(c);
              if (/(auto|scroll|hidden)/.test(s.overflowX)) break;
              c = c.parentElement;
            }
            const cr = (c && c !== document.body) ? c.getBoundingClientRect() : {left: 0, right: window.innerWidth};
            return {text: e.textContent.trim() || e.value, left: r.left, right: r.right, height: r.height,
                    button: e.matches("a.button, input[type=submit]"),
                    cleft: cr.left, cright: cr.right, container: c ? (c.tagName + "." + c.className) : ""};
        })""",
        ACTIONS,
    )
    clipped = [
        box
        for box in boxes
        if box["left"] < 0
        or box["right"] > width + 0.5
        or box["left"] < box["cleft"] - 0.5
        or box["right"] > box["cright"] + 0.5
        or (box["button"] and box["height"] > 44)  # a button squeezed onto two lines
    ]
    assert not clipped, repr([{**box, "url": page.url} for box in clipped])
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    return len(boxes)


# The column headers' words that the browser laid out over more than one line ("COMUNI / DADE").
SPLIT_HEADER_WORDS = """() => {
    const split = [];
    for (const th of document.querySelectorAll("#result_list thead th")) {
        const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
                if (lines.size > 1) split.push(word[0]);
            }
        }
    }
    return split;
}"""


def _layout_history_rows(community, colleague) -> None:
    """The community's policy set again (unchanged) by a colleague with a long name."""
    from clients.services import PolicyChange, client_auth_policy_set

    client_auth_policy_set(
        community=community,
        change=PolicyChange(allowed_ips=["127.0.0.1", "203.0.113.0/24"]),
        actor=Actor.staff(colleague, source_ip="203.0.113.10"),
        reason="partner asked to keep its office network",
    )


def _colleague_with_a_factor_and_a_lock():
    """A colleague with something to reset and something to lift: both buttons in the row."""
    from axes.models import AccessAttempt
    from django.conf import settings

    from tests.conftest import verified_device

    colleague = staff_user("tomas.colleague", "security")
    colleague.first_name, colleague.last_name = "Tomás", "de Albuquerque Cavalcanti"
    colleague.save()
    verified_device(colleague)
    AccessAttempt.objects.create(
        username=colleague.username,
        ip_address="203.0.113.9",
        user_agent="test",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        get_data="",
        post_data="",
        http_accept="",
        path_info="/admin/login/",
    )
    return colleague


def assert_buttons_do_not_overlap(page, selector: str) -> None:
    boxes = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map(e => {
            const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];
        })""",
        selector,
    )
    assert len(boxes) == 2, boxes  # sue's own row has none; the colleague's has both
    (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes
    assert r1 <= l2 + 0.5 or r2 <= l1 + 0.5 or b1 <= t2 + 0.5 or b2 <= t1 + 0.5, boxes


def assert_heading_clear_of_the_buttons(page) -> None:
    """The page's h1/h2 and its object tools (the buttons at the top) never share a pixel."""
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('#content > h1, #content > h2, #content .object-tools li')]
            .map(e => { const r = e.getBoundingClientRect();
                        return {tag: e.tagName, text: e.textContent.trim().slice(0, 40),
                                left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })"""
    )
    headings = [box for box in boxes if box["tag"] in ("H1", "H2")]
    buttons = [box for box in boxes if box["tag"] == "LI"]
    assert headings and len(buttons) >= 3, boxes
    for heading in headings:
        for button in buttons:
            apart = (
                heading["right"] <= button["left"] + 0.5
                or button["right"] <= heading["left"] + 0.5
                or heading["bottom"] <= button["top"] + 0.5
                or button["bottom"] <= heading["top"] + 0.5
            )
            assert apart, (heading, button)


# Cells that must stay on one line: a token ID (its first 12 characters) and a client_id, which the
# browser would otherwise break at a hyphen ("demo-" / "community").
ONE_LINE_CELLS = """() => [...document.querySelectorAll(
        '#result_list .field-short_jti code, #result_list .field-client_id a, #result_list .field-community_link a, '
        + '#result_list .field-community_shown a')]
    .filter(e => new Set([...e.getClientRects()].map(r => Math.round(r.top))).size > 1)
    .map(e => e.textContent)"""

# The list's table inside the box that holds it: no column pushed out of view.
TABLE_OVERFLOW = """() => { const t = document.querySelector('#result_list');
    return t ? t.getBoundingClientRect().right - t.parentElement.getBoundingClientRect().right : 0; }"""

HISTORY_OVERFLOW = """() => { const t = document.querySelector('#community-history');
    return t.getBoundingClientRect().right - document.documentElement.clientWidth; }"""

# A value in the community's history squeezed to a sliver (a letter or two a line) beside its label.
SQUEEZED_VALUES = """() => [...document.querySelectorAll('#community-history .history-details dd')]
    .filter(e => e.textContent.trim().length > 8 && e.getBoundingClientRect().width < 96)
    .map(e => e.textContent.trim())"""

# The header's links and the sign-out button, as the reader sees them.
HEADER_LOOK = """() => [...document.querySelectorAll('#user-tools a, #logout-form button')].map(e => {
    const s = getComputedStyle(e);
    return [s.color, s.fontWeight, s.fontSize, s.letterSpacing, s.textTransform, s.opacity].join(' ');
})"""


def test_no_action_is_clipped_at_1024_or_1280_px(live_server, tmp_path):
    base = live_server.url
    staff_user("sue", "security")
    api_created, community, (open_request, _revoke) = _layout_data()
    hyphenated = make_community("demo-community")
    for created in (api_created, api_created, api_created, hyphenated):
        assert (
            http(
                "POST",
                f"{base}/auth/token",
                {"client_id": created.community.client_id, "client_secret": created.client_secret},
            )[0]
            == 200
        )
    # The tokens' longest state beside a "Revogar" button: a live Bearer token the policy refuses.
    _require_dpop(hyphenated.community)
    reported = make_community("reported").community
    open_request(
        community=reported, reason="partner phoned: a contractor kept the secret " * 3, actor=TEST_ACTOR
    )
    colleague = _colleague_with_a_factor_and_a_lock()
    # In a history's nowrap columns: a long action by a long-named staff member, a long partner client_id.
    _layout_history_rows(community, colleague)
    long_partner = make_community("another-rather-long-client-id-for-layout.example").community
    open_request(
        community=long_partner,
        reason="our CI log printed the secret",
        actor=Actor.partner(long_partner.client_id, source_ip="2001:db8:85a3:0:0:8a2e:370:7334"),
    )
    connections.close_all()
    pages = {
        "staff": "console/staffaccount/",
        "communities": "communities/community/",
        "tokens": "tokens/issuedtoken/",
        "keys": "clients/clientkey/",
        "audit": "audit/auditevent/",
        "requests": "tokens/revocationrequest/",
        "policies": "clients/clientauthpolicy/",
        "community": f"communities/community/{community.pk}/change/",
    }
    for width in (1024, 1280):
        with watched_page(width=width) as page:
            sign_in(page, base, "sue")
            for name, path in pages.items():
                page.goto(f"{base}/admin/{path}")
                checked = assert_no_clipped_action(page, width)
                assert checked > 0, name
                if name == "staff":
                    assert_buttons_do_not_overlap(page, "#result_list .staff-actions a.button")
                if name == "community":
                    assert_heading_clear_of_the_buttons(page)
                if name == "tokens":  # the long state wraps; its row's button stays in view (checked above)
                    expect(page.get_by_text("recusado: a política exige DPoP")).to_be_visible()
                assert page.evaluate(ONE_LINE_CELLS) == [], (width, name)
                assert page.evaluate(TABLE_OVERFLOW) <= 0.5, (width, name)
                look = page.evaluate(HEADER_LOOK)
                assert len(look) >= 2 and len(set(look)) == 1, look  # sign-out looks like the links
                if width == 1024 and name in ("audit", "tokens", "keys", "communities", "staff"):
                    screenshot(page, f"layout-1024-{name}", tmp_path)
            # a policy's long values; a request's long labels; a partner's long client_id as "who"
            for subject in (community, reported, long_partner):
                page.goto(f"{base}/admin/communities/community/{subject.pk}/history/")
                expect(page.locator("#community-history .history-details dd").first).to_be_visible()
                assert page.evaluate(SQUEEZED_VALUES) == [], (width, subject.client_id)
                assert page.evaluate(HISTORY_OVERFLOW) <= 0.5, (width, subject.client_id)
                # and nothing else on the page (the intro, a long value) makes it scroll sideways
                assert page.evaluate("document.documentElement.scrollWidth") <= width, subject.client_id
                if width == 1024 and subject != long_partner:
                    screenshot(page, f"layout-1024-history-{subject.client_id[:8]}", tmp_path)
            page.goto(f"{base}/admin/audit/auditevent/")
            details = page.locator("#result_list .audit-details").first
            expect(details).to_be_visible()
            expect(page.locator("#result_list details.audit-raw pre").first).not_to_be_visible()
            for path in pages.values():  # no English column header or filter title
                page.goto(f"{base}/admin/{path}")
                headers = " ".join(
                    page.locator("#result_list thead th, #changelist-filter h3").all_inner_texts()
                )
                assert "community" not in headers.lower(), (path, headers)
                assert page.evaluate(SPLIT_HEADER_WORDS) == [], (width, path)


def test_retiring_a_key_counts_its_live_tokens_before_confirming_and_revokes_them(live_server, tmp_path):
    from tests.test_console_dpop_and_request_truths import _token
    from tests.test_console_key_retire_token_count import _two_keys
    from tokens.models import IssuedToken

    base = live_server.url
    staff_user("sue", "security")
    created = make_community("retireco")
    key = _two_keys(created)  # another key stays active: no "last key" question on this page
    _token(created.community, key=key, jti="with-key-1")
    _token(created.community, key=key, jti="with-key-2")
    _token(created.community, jti="with-secret")  # not issued with the key: left alone
    connections.close_all()
    with watched_page(1024, 768) as page:
        sign_in(page, base, "sue")
        page.goto(f"{base}/admin/clients/clientkey/{key.pk}/retire/")
        expect(page.locator("#confirm-question")).to_contain_text(
            "2 tokens ativos emitidos com esta chave serão revogados"
        )
        page.fill("#id_reason", "laptop lost")
        confirm = page.locator("#confirm-form input[type=submit]")
        # Reachable without scrolling sideways or down at 1024 x 768, and on one line.
        box = confirm.bounding_box()
        assert box is not None and box["x"] >= 0 and box["y"] >= 0 and box["height"] <= 44, box
        assert box["x"] + box["width"] <= 1024 and box["y"] + box["height"] <= 768, box
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        screenshot(page, "key-retire-count", tmp_path)
        confirm.click()
        expect(page.locator(".messagelist .success")).to_contain_text("2 tokens revogados")
    revoked = set(IssuedToken.objects.filter(revoked_at__isnull=False).values_list("jti", flat=True))
    assert revoked == {"with-key-1", "with-key-2"}
    connections.close_all()
