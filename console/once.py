"""A new secret is shown once: the POST that creates it redirects to a page that pops it from the session.

GitHub's and Stripe's pattern. The secret never travels in a URL and is never rendered by the POST
itself, so reloading, going Back or resubmitting can neither repeat the action nor show it again:
- each secret-creating form carries a random key, claimed in the action's own transaction
  (``FormSubmission`` has it unique), so the same form never acts twice;
- the form page itself shows this staff member's *current* key for the action (kept in the session per
  action and object), so a page reached by Back, which the browser fetches again, carries the key that
  was already claimed and is refused with a page saying what happened. Only a deliberate POST ("start
  again") gives a new key: no address, reached by Back or typed, ever hands out a fresh form;
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


_FORM_PREFIX = "console.form."


def form_key_for(request, scope: str) -> str:
    """This staff member's current key for ``scope``: the same on every GET until "start again"."""
    key = request.session.get(_FORM_PREFIX + scope)
    if not isinstance(key, str) or not key:
        key = form_key_renew(request, scope)
    return key


def form_key_renew(request, scope: str) -> str:
    key = form_key_new()
    request.session[_FORM_PREFIX + scope] = key
    return key


def form_already_done(request, scope: str) -> FormSubmission | None:
    """The submission of the current form for ``scope`` if it was already claimed (the page was reached
    by Back, or opened again after acting): the view shows what happened instead of the form."""
    key = request.session.get(_FORM_PREFIX + scope)
    if not isinstance(key, str) or not key:
        return None
    return FormSubmission.objects.filter(key=key, staff=request.user).first()


def form_done_url(key: str) -> str:
    return reverse("console:form-done", args=[key])


def form_already_submitted(request) -> str | None:
    """The secret page's address if this POST replays a form this staff member already submitted."""
    key = request.POST.get("form_key", "") if request.method == "POST" else ""
    if key and FormSubmission.objects.filter(key=key, staff=request.user).exists():
        return secret_page_url(key)
    return None


def secret_page_url(key: str) -> str:
    return reverse("console:secret-once", args=[key])


def secret_reveal_later(
    request, key: str, *, community, client_secret: str, title: str, note: str = ""
) -> HttpResponseRedirect:
    """Keep the secret for one display in this staff member's session, and send the browser there."""
    request.session[_SESSION_PREFIX + key] = {
        "community": community.pk,
        "client_secret": _seal(client_secret, key),
        "title": str(title),
        "note": str(note),
    }
    return HttpResponseRedirect(secret_page_url(key))


def secret_pop(request, key: str) -> dict | None:
    """The waiting secret, removed from the session as it is read: a second call gets ``None``."""
    shown = request.session.pop(_SESSION_PREFIX + key, None)
    if shown is None:
        return None
    client_secret = _open(shown.get("client_secret", ""), key)
    return None if client_secret is None else {**shown, "client_secret": client_secret}
