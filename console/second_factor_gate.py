"""Middleware: a staff member who has not given a second factor this session can only give one (or enrol,
or sign out, or read who can help). Everything else in the console redirects there first (SPEC §5a)."""

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice

from console import second_factor


class SecondFactorGate:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.console: str | None = None  # resolved on first use: URLconf may not be loaded yet
        self.open_paths: tuple[str, ...] = ()

    def _resolve(self) -> None:
        self.console = reverse("admin:index")
        self.open_paths = (
            reverse("console:second-factor-verify"),
            reverse("console:second-factor-enrol"),
            reverse("console:second-factor-help"),
            reverse("console:recovery-codes"),
            reverse("otp_webauthn:credential-registration-begin").rsplit("registration/", 1)[0],
            reverse("admin:login"),
            reverse("admin:logout"),
            reverse("admin:jsi18n"),
        )

    def __call__(self, request):
        if self.console is None:
            self._resolve()
        path = request.path_info
        user = request.user
        if (
            not path.startswith(self.console)
            or not user.is_authenticated
            or not user.is_staff
            or path.startswith(self.open_paths)
        ):
            return self.get_response(request)
        target = self._where_to(user)
        if target is None:
            return self.get_response(request)
        next_url = request.get_full_path() if request.method == "GET" else self.console
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': next_url})}")

    @staticmethod
    def _where_to(user) -> str | None:
        """``None`` when the session may act; else the page that comes first."""
        if user.is_verified():
            # An app or a passkey verified this session: enrolled by definition. A recovery code got the
            # person in: they enrol a real factor before anything else.
            if not isinstance(user.otp_device, StaticDevice) or second_factor.has_enrolled(user):
                return None
            return "console:second-factor-enrol"
        if second_factor.has_any_factor(user):
            return "console:second-factor-verify"
        return "console:second-factor-enrol"
