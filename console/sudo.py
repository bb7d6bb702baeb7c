"""GitHub's "sudo mode": before a secret is created or revealed, a password typed and a second factor given
in the last few minutes (SPEC §5a).

Signing in counts as both. The window is ``CONSOLE_PASSWORD_WINDOW`` (default 10 minutes). A form sent
while the prompt was due is kept in the session and comes back filled in exactly as typed
(``form_data``): the person checks it and sends it again, so nothing is done on a stale prompt, and
nothing typed is lost.
"""

import time
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy

from bfluence.conf import app_settings
from console.second_factor import factor_is_fresh

SESSION_KEY = "console.password_confirmed_at"
STASH_KEY = "console.form_before_prompt"
# Never kept across the prompt: Django's own token is renewed at sign-in anyway.
_NOT_KEPT = {"csrfmiddlewaretoken", "password"}

# What the prompt says the action is: ``password_prompt(..., purpose=...)`` passes the key along as
# ``?why=``; an unknown or missing key reads as the secret case, which most prompts are.
PURPOSES = {
    "secret": gettext_lazy("This action creates or shows a client secret. Confirm it is you to go on."),
    "lift-lock": gettext_lazy(
        "This action lifts another staff member's sign-in block. Confirm it is you to go on."
    ),
    "reset-second-factor": gettext_lazy(
        "This action resets another staff member's second factor. Confirm it is you to go on."
    ),
    "recovery-codes": gettext_lazy("This action replaces your recovery codes. Confirm it is you to go on."),
}
# Said only when a form was sent and kept for the page the prompt leads back to (never after a link).
KEPT = gettext_lazy("What you typed in the form is kept: it comes back filled in.")


def password_confirmed(request) -> None:
    request.session[SESSION_KEY] = int(time.time())


def password_is_fresh(request) -> bool:
    confirmed_at = request.session.get(SESSION_KEY)
    window = app_settings().console_password_window.total_seconds()
    return isinstance(confirmed_at, int) and 0 <= time.time() - confirmed_at < window


def prompt_is_due(request) -> bool:
    return not (password_is_fresh(request) and factor_is_fresh(request))


def password_prompt(request, next_url: str, purpose: str = "secret") -> HttpResponseRedirect | None:
    """``None`` when the password and the second factor are fresh; else the redirect to the prompt, which
    comes back to ``next_url`` and says what the action is (``purpose``, a key of ``PURPOSES``). A POST's
    fields are kept for ``form_data`` to give back."""
    if not prompt_is_due(request):
        return None
    if request.method == "POST":
        kept = {key: request.POST.getlist(key) for key in request.POST if key not in _NOT_KEPT}
        request.session[STASH_KEY] = {"path": next_url, "fields": kept}
    query = urlencode({"next": next_url, "why": purpose})
    return HttpResponseRedirect(f"{reverse('console:confirm-password')}?{query}")


def prompt_purpose(request, next_url: str) -> str:
    """The prompt's sentence for ``?why=`` (a fixed text: nothing from the address is shown), and that
    the form is kept when one was sent on the way to ``next_url``."""
    purpose = str(PURPOSES.get(request.GET.get("why", ""), PURPOSES["secret"]))
    stash = request.session.get(STASH_KEY)
    if stash and stash.get("path") == urlsplit(next_url).path:
        return f"{purpose} {KEPT}"
    return purpose


def form_data(request) -> QueryDict | None:
    """What a form should be bound to: the POST, or on the way back from the prompt the fields as they
    were typed (once), or ``None`` for an empty form."""
    if request.method == "POST":
        return request.POST
    stash = request.session.get(STASH_KEY)
    if not stash or stash.get("path") != request.path:
        return None
    del request.session[STASH_KEY]
    data = QueryDict(mutable=True)
    for key, values in stash["fields"].items():
        data.setlist(key, values)
    return data


@receiver(user_logged_in)
def _password_typed_at_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        password_confirmed(request)
