"""django-otp-webauthn's passkey ceremonies (its URL names, which its scripts use), staff only, with the
two completing views replaced by ones that write this project's audit rows."""

from django.conf import settings
from django.contrib import admin
from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import views as webauthn

from console.second_factor_views import PasskeyAuthenticationComplete, PasskeyRegistrationComplete

app_name = "otp_webauthn"


class PasskeyScriptCatalog(JavaScriptCatalog):
    """The package's script strings, with the pt-BR this project adds (console/passkey_locale)."""

    packages = ["django_otp_webauthn"]

    def get_paths(self, packages):
        return [*super().get_paths(packages), str(settings.BASE_DIR / "console" / "passkey_locale")]


def _staff(view):
    return admin.site.admin_view(view.as_view())


urlpatterns = [
    path(
        "registration/begin/",
        _staff(webauthn.BeginCredentialRegistrationView),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/", _staff(PasskeyRegistrationComplete), name="credential-registration-complete"
    ),
    path(
        "authentication/begin/",
        _staff(webauthn.BeginCredentialAuthenticationView),
        name="credential-authentication-begin",
    ),
    path(
        "authentication/complete/",
        _staff(PasskeyAuthenticationComplete),
        name="credential-authentication-complete",
    ),
    path(
        "jsi18n/",
        admin.site.admin_view(PasskeyScriptCatalog.as_view(packages=["django_otp_webauthn"])),
        name="js-i18n-catalog",
    ),
]
