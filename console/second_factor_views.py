"""The second-factor pages: give a code or a passkey, enrol, recovery codes (shown once), who can help.
Thin: console.second_factor does the work and the audit."""

from base64 import b32encode

import segno
from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django_otp_webauthn.views import CompleteCredentialAuthenticationView, CompleteCredentialRegistrationView

from console import second_factor
from console.forms import console_time_zoned
from console.humane import staff_name
from console.pages import render_admin_page, safe_next, staff_actor
from console.sudo import password_prompt

RECOVERY_CODES_SESSION_KEY = "console.recovery_codes_to_show"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy(
            "The 6 digits your authenticator app shows now, or one of your recovery codes."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false", "size": 14}
        ),
    )


def _no_cache(response):
    add_never_cache_headers(response)
    return response


@sensitive_post_parameters("code")
def verify(request):
    """Sign-in's second step: a code (app or recovery) or the person's passkey."""
    user = request.user
    if user.is_verified():
        return HttpResponseRedirect(safe_next(request))
    if not second_factor.has_any_factor(user):
        return HttpResponseRedirect(reverse("console:second-factor-enrol"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = second_factor.second_factor_verify_code(
            request=request,
            user=user,
            code=form.cleaned_data["code"],
            actor=staff_actor(request),
            where="sign_in",
        )
        if check.accepted:
            _recovery_code_note(request, check)
            return HttpResponseRedirect(safe_next(request))
        form.add_error("code", _code_refused(check))
    return _no_cache(
        render_admin_page(
            request,
            None,
            "console/second_factor_verify.html",
            _("Second factor"),
            form=form,
            next=safe_next(request),
            passkey=second_factor.has_passkey(user),
        )
    )


def _code_refused(check) -> str:
    if check.throttled:
        return _("Too many wrong codes in a row: wait a few seconds and type the code your app shows now.")
    return _("That code is not valid. Type the code your app shows now, or an unused recovery code.")


def _recovery_code_note(request, check) -> None:
    if check.recovery_codes_left is None:
        return
    messages.warning(
        request,
        ngettext(
            "You used a recovery code: %(count)s is left. Each works once.",
            "You used a recovery code: %(count)s are left. Each works once.",
            check.recovery_codes_left,
        )
        % {"count": check.recovery_codes_left},
    )


@sensitive_post_parameters("code")
def enrol(request):
    """Set up the authenticator app (any TOTP app: scan the code or type the key) or a passkey."""
    user = request.user
    if not user.is_verified() and second_factor.has_any_factor(user):
        # Enrolling another factor without first giving the one you have would bypass it.
        return HttpResponseRedirect(
            f"{reverse('console:second-factor-verify')}?next={request.get_full_path()}"
        )
    app_enrolled = user.is_verified() and second_factor.has_enrolled(user)
    device = None if app_enrolled else second_factor.totp_device_pending(user=user)
    form = CodeForm(request.POST or None)
    form.fields["code"].help_text = _("The 6 digits your authenticator app shows after adding the key.")
    if device is not None and request.method == "POST" and form.is_valid():
        codes = second_factor.second_factor_enrol_totp(
            request=request,
            user=user,
            device=device,
            code=form.cleaned_data["code"],
            actor=staff_actor(request),
        )
        if codes is not None:
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return HttpResponseRedirect(reverse("console:recovery-codes"))
        form.add_error(
            "code", _("That code is not valid. Check the phone's clock and type the code shown now.")
        )
    context = {
        "form": form,
        "app_enrolled": app_enrolled,
        "next": safe_next(request),
        "reset_note": "" if app_enrolled else _reset_note(user),
    }
    if device is not None:
        context["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(scale=4, title=_("QR code"))
        context["manual_key"] = " ".join(_groups(b32encode(device.bin_key).decode()))
    return _no_cache(
        render_admin_page(
            request, None, "console/second_factor_enrol.html", _("Set up your second factor"), **context
        )
    )


def _reset_note(user) -> str:
    """Why a person who had a factor is here: a colleague (or an operator) reset it."""
    reset = second_factor.second_factor_last_reset(user=user)
    if reset is None:
        return ""
    by = staff_name(reset.actor) if reset.actor_type == "staff" else _("an operator on the server")
    return _("Your second factor was reset by %(who)s on %(moment)s: set up a new one.") % {
        "who": by,
        "moment": console_time_zoned(reset.occurred_at),
    }


def _groups(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def recovery_codes(request):
    """The codes just issued, shown once (taken out of the session here). A reload shows no codes and
    offers new ones explicitly (POST, then back here): nothing is replaced silently."""
    if request.method == "POST":
        # New codes end the old ones and outlive the session: GitHub's sudo mode first.
        if prompt := password_prompt(request, request.path, "recovery-codes"):
            return prompt
        codes = second_factor.recovery_codes_issue(user=request.user, actor=staff_actor(request))
        request.session[RECOVERY_CODES_SESSION_KEY] = codes
        return HttpResponseRedirect(reverse("console:recovery-codes"))
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if codes is None and request.GET.get("after") == "passkey":
        messages.success(request, _("Passkey registered. Your recovery codes from before still work."))
        return HttpResponseRedirect(reverse("admin:index"))
    return _no_cache(
        render_admin_page(
            request,
            None,
            "console/recovery_codes.html",
            _("Your recovery codes"),
            codes=codes,
        )
    )


def help_page(request):
    """For someone without their phone, passkey or codes: who can reset the factor, and how."""
    helpers = second_factor.security_members(excluding=request.user)
    return render_admin_page(
        request,
        None,
        "console/second_factor_help.html",
        _("No access to your second factor?"),
        helpers=helpers,
        # A support member is not in the group: "a member of the security group", not "another".
        in_security=second_factor.is_security_member(request.user),
        username=request.user.get_username(),
    )


# --- django-otp-webauthn's ceremonies, with this project's audit rows -------------------------------


@method_decorator(sensitive_post_parameters(), name="dispatch")
class PasskeyRegistrationComplete(CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        codes = second_factor.second_factor_passkey_enrolled(
            request=self.request, user=self.request.user, actor=staff_actor(self.request)
        )
        if codes is not None:
            self.request.session[RECOVERY_CODES_SESSION_KEY] = codes
        return response


class PasskeyAuthenticationComplete(CompleteCredentialAuthenticationView):
    def post(self, *args, **kwargs):
        try:
            return super().post(*args, **kwargs)
        except Exception:
            # Refused by django-otp-webauthn (wrong origin, unknown credential, bad signature): audited,
            # then answered by the library's own error handling.
            second_factor.second_factor_passkey_refused(actor=staff_actor(self.request))
            raise

    def complete_auth(self, device):
        super().complete_auth(device)
        second_factor.second_factor_passkey_used(request=self.request, actor=staff_actor(self.request))
