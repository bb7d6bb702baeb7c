"""GitHub's "sudo mode": before a secret is created or revealed, a password typed in the last few minutes.

Signing in counts as typing it. The window is ``CONSOLE_PASSWORD_WINDOW`` (default 10 minutes).
"""

import time
from urllib.parse import urlencode

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.urls import reverse

from bfluence.conf import app_settings

SESSION_KEY = "console.password_confirmed_at"


def password_confirmed(request) -> None:
    request.session[SESSION_KEY] = int(time.time())


def password_is_fresh(request) -> bool:
    confirmed_at = request.session.get(SESSION_KEY)
    window = app_settings().console_password_window.total_seconds()
    return isinstance(confirmed_at, int) and 0 <= time.time() - confirmed_at < window


def password_prompt(request, next_url: str) -> HttpResponseRedirect | None:
    """``None`` when the password is fresh; else the redirect to the prompt, which comes back to ``next_url``.

    After a POST the browser comes back with a GET: the form is filled in again, so nothing is done
    on the strength of a stale password.
    """
    if password_is_fresh(request):
        return None
    return HttpResponseRedirect(f"{reverse('console:confirm-password')}?{urlencode({'next': next_url})}")


@receiver(user_logged_in)
def _password_typed_at_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        password_confirmed(request)
