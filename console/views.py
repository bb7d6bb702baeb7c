"""Console pages that belong to no one model: the password prompt, the one-time secret page, errors."""

from django import forms
from django.contrib import admin
from django.contrib.auth import authenticate
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from bfluence import errors as api_errors
from communities.models import Community
from console.credential_notes import (
    community_inactive_warning,
    new_secret_allowlist_line,
    new_secret_dpop_line,
    new_secret_policy_line,
)
from console.forms import console_time_zoned
from console.middleware import console_prefix
from console.models import FormSubmission
from console.once import secret_link_is_theirs, secret_pop
from console.pages import render_admin_page, safe_next, staff_actor
from console.second_factor import (
    factor_is_fresh,
    has_passkey,
    second_factor_verify_code,
)
from console.signin import AT_THE_PROMPT, attempts_left, attempts_left_message
from console.sudo import password_confirmed, password_is_fresh, prompt_purpose
from console.who_can_act import RefusedOnRequest, may_rotate_secret, refused_whom_to_ask


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy(
            "The 6 digits your authenticator app shows now, or one of your recovery codes."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false", "size": 14}),
    )

    def __init__(self, *args, ask_password: bool, ask_code: bool, passkey: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not ask_password:
            del self.fields["password"]
        if not ask_code:
            del self.fields["code"]
        elif passkey and ask_password:  # the passkey is offered on the next step instead
            self.fields["code"].required = False
            self.fields["code"].help_text = _("Using a passkey? Leave this empty: the next step offers it.")


_safe_next = safe_next


@sensitive_post_parameters("password", "code")
def confirm_password(request):
    """GitHub's sudo prompt: the password (through ``authenticate``, so sign-in lockouts count these tries
    too) and a fresh second factor (a code, or the passkey button on the page)."""
    ask_password, ask_code = not password_is_fresh(request), not factor_is_fresh(request)
    if not (ask_password or ask_code):
        return HttpResponseRedirect(_safe_next(request))
    passkey = ask_code and has_passkey(request.user)
    form = ConfirmPasswordForm(
        request.POST or None, ask_password=ask_password, ask_code=ask_code, passkey=passkey
    )
    if request.method == "POST" and form.is_valid():
        if ask_password and _password_refused(request, form):
            form.add_error("password", _("That is not your password."))
            if left := attempts_left(request):
                form.add_error("password", attempts_left_message(left))
        elif ask_code and form.cleaned_data["code"]:
            if _code_accepted(request, form):
                return HttpResponseRedirect(_safe_next(request))
            form.add_error("code", _("That code is not valid. Type the code your app shows now."))
        elif ask_code:  # password confirmed; the passkey comes on the next step
            return HttpResponseRedirect(request.get_full_path())
        else:
            return HttpResponseRedirect(_safe_next(request))
    return render_admin_page(
        request,
        None,
        "console/confirm_password.html",
        _("Confirm it is you"),
        form=form,
        next=_safe_next(request),
        passkey=passkey,
        purpose=prompt_purpose(request, _safe_next(request)),
    )


def _password_refused(request, form) -> bool:
    setattr(request, AT_THE_PROMPT, True)  # a failure here is a prompt failure, not a failed sign-in
    user = authenticate(request, username=request.user.get_username(), password=form.cleaned_data["password"])
    if user is not None and user.pk == request.user.pk:
        password_confirmed(request)
        return False
    return True


def _code_accepted(request, form) -> bool:
    check = second_factor_verify_code(
        request=request,
        user=request.user,
        code=form.cleaned_data["code"],
        actor=staff_actor(request),
        where="prompt",
    )
    return check.accepted


def secret_once(request, key: str):
    """The one page that ever shows a client secret, and only once: it is taken out of the session here."""
    if not secret_link_is_theirs(request, key):
        response = render_admin_page(
            request,
            None,
            "console/error.html",
            _("This secret link is not yours"),
            status=404,
            message=_("This secret link is not yours: only whoever created it can see it, once."),
        )
        add_never_cache_headers(response)
        return response
    shown = secret_pop(request, key)
    if shown is None:
        done = FormSubmission.objects.filter(key=key, staff=request.user).first()
        response = render_admin_page(
            request,
            None,
            "console/secret_gone.html",
            _("This secret was already shown"),
            status=410,
            done=done,
            done_at=console_time_zoned(done.created_at) if done is not None else "",
            can_rotate=may_rotate_secret(request.user),
        )
    else:
        community = Community.objects.get(pk=shown["community"])
        response = render_admin_page(
            request,
            None,
            "console/secret_once.html",
            shown["title"],
            community=community,
            client_secret=shown["client_secret"],
            note=shown["note"],
            inactive_line=community_inactive_warning(community) if shown.get("authenticates_partner") else "",
            keys_line=new_secret_policy_line(community) if shown.get("authenticates_partner") else "",
            dpop_line=new_secret_dpop_line(community) if shown.get("authenticates_partner") else "",
            allowlist_line=new_secret_allowlist_line(community) if shown.get("authenticates_partner") else "",
        )
    add_never_cache_headers(response)
    return response


def form_done(request, key: str):
    """What a form already did, for a second submission of it (Back, then submit; a double click).

    Nothing is done here. "Start again" opens the form anew, which gives it a new one-time key.
    """
    done = FormSubmission.objects.filter(key=key, staff=request.user).first()
    if done is None:
        return render_admin_page(
            request,
            None,
            "console/error.html",
            _("Not found"),
            status=404,
            message=_("There is nothing at this address. It may have been typed wrong."),
        )
    response = render_admin_page(
        request, None, "console/form_done.html", _("This was already done"), done=done
    )
    add_never_cache_headers(response)
    return response


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a stale tab's form, as a console page in the staff member's language."""
    response = _error_page(
        request,
        403,
        _("This page had expired"),
        _(
            "The form was opened too long ago, or in a session that has ended since, so it was not sent. "
            "Nothing was changed. Open the page again and fill in the form once more."
        ),
    )
    return response


# --- errors: console pages inside the console, the API's JSON everywhere else ----------------------


def _in_console(request) -> bool:
    return request.path.startswith(console_prefix())


def _error_page(request, status: int, title: str, message: str):
    context = {**admin.site.each_context(request), "title": title, "message": message}
    return render(request, "console/error.html", context, status=status)


def handler403(request, exception=None):
    if _in_console(request):
        revocation = exception.revocation if isinstance(exception, RefusedOnRequest) else None
        return _error_page(
            request, 403, _("Not allowed"), refused_whom_to_ask(request.user, revocation=revocation)
        )
    return api_errors.handler403(request, exception)


def handler404(request, exception=None):
    if _in_console(request):
        return _error_page(
            request, 404, _("Not found"), _("There is nothing at this address. It may have been typed wrong.")
        )
    return api_errors.handler404(request, exception)
