"""A new secret is shown once: the POST that creates it redirects to a page that pops it from the session.

GitHub's and Stripe's pattern. The secret never travels in a URL and is never rendered by the POST
itself, so reloading, going Back or resubmitting can neither repeat the action nor show it again:
- each secret-creating form carries a random key, claimed in the action's own transaction
  (``FormSubmission`` has it unique), so the same form never acts twice;
- every visit to the form page (a click, a typed address) gets a new key: acting again later is an
  ordinary second action. A page reached by Back carries the key it was sent with: the browser's
  history entry keeps it (``console/once-form.js`` puts it in ``history.state`` as the form is sent,
  and back into the form when the entry is reached by Back or Forward, whether or not the browser
  fetched the page again). Submitting that, or reloading the POST, gets a page saying what already
  happened. What that page shows is fetched anew (admin pages are ``no-store``) and nothing typed or
  ticked before comes back (the form is ``autocomplete="off"``): it says what is true now;
- the secret waits in the staff member's own session under that key and is removed the first time
  the page shows it. The session is a database row (base64 JSON, signed, not encrypted), so the secret
  waits there encrypted with a key derived from ``SECRET_KEY``: a redirect never followed must not leave
  it readable in the table and its backups.
"""

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import salted_hmac

from console.models import FormSubmission

_SESSION_PREFIX = "console.secret."


def _cipher() -> AESGCM:
    return AESGCM(salted_hmac("console.once.secret", "", algorithm="sha256").digest())


def _seal(text: str, key: str) -> str:
    nonce = secrets.token_bytes(12)
    return (nonce + _cipher().encrypt(nonce, text.encode(), key.encode())).hex()


def _open(sealed: str, key: str) -> str | None:
    try:
        raw = bytes.fromhex(sealed)
        return _cipher().decrypt(raw[:12], raw[12:], key.encode()).decode()
    except (ValueError, InvalidTag):
        return None  # SECRET_KEY changed meanwhile: the page says it is gone, as after a reload


class AlreadySubmitted(Exception):
    """This form was submitted before: its action already happened and must not happen again."""


def form_key_new() -> str:
    return secrets.token_urlsafe(24)


def form_key_claim(*, key: str, user, scope: str = "", page: str = "") -> FormSubmission:
    """Call inside the action's transaction: if the action later fails, the key is free again.

    ``scope`` names the action and its object (``rotate:12``); ``page``, the form's address. Once the
    action is done, ``form_done_note`` records what happened, for the page a second submission gets.
    """
    try:
        with transaction.atomic():
            return FormSubmission.objects.create(key=key, staff=user, scope=scope[:100], page=page[:300])
    except IntegrityError as error:
        raise AlreadySubmitted from error


def form_done_note(submission: FormSubmission, summary: str) -> None:
    """What the claimed form did, in the staff member's words (no secret: hints and names only)."""
    submission.summary = str(summary)[:500]
    submission.save(update_fields=["summary"])


def form_done_url(key: str) -> str:
    return reverse("console:form-done", args=[key])


def form_already_submitted(request) -> str | None:
    """Where a POST goes that replays a form this staff member already submitted (Back then submit, a
    reload of the POST): the page saying what was done; the secret page only while the secret still
    waits there (a double click, whose first answer the browser dropped)."""
    key = request.POST.get("form_key", "") if request.method == "POST" else ""
    if key and FormSubmission.objects.filter(key=key, staff=request.user).exists():
        return secret_page_url(key) if _SESSION_PREFIX + key in request.session else form_done_url(key)
    return None


def secret_page_url(key: str) -> str:
    return reverse("console:secret-once", args=[key])


def secret_reveal_later(
    request,
    key: str,
    *,
    community,
    client_secret: str,
    title: str,
    note: str = "",
    authenticates_partner: bool = True,
) -> HttpResponseRedirect:
    """Keep the secret for one display in this staff member's session, and send the browser there.

    ``authenticates_partner``: a client secret (not a webhook signing secret), whose page also says
    which of the community's keys get the partner tokens as well."""
    request.session[_SESSION_PREFIX + key] = {
        "community": community.pk,
        "client_secret": _seal(client_secret, key),
        "title": str(title),
        "note": str(note),
        "authenticates_partner": authenticates_partner,
    }
    return HttpResponseRedirect(secret_page_url(key))


def secret_link_is_theirs(request, key: str) -> bool:
    """Whether this staff member made the form behind this secret link. Its secret waits in the creator's
    session only: anyone else opening the link has nothing to see, and must not be told it was shown."""
    waiting = _SESSION_PREFIX + key in request.session
    return waiting or FormSubmission.objects.filter(key=key, staff=request.user).exists()


def secret_pop(request, key: str) -> dict | None:
    """The waiting secret, removed from the session as it is read: a second call gets ``None``."""
    shown = request.session.pop(_SESSION_PREFIX + key, None)
    if shown is None:
        return None
    client_secret = _open(shown.get("client_secret", ""), key)
    return None if client_secret is None else {**shown, "client_secret": client_secret}
