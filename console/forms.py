"""Staff console forms for communities. Validation of substance stays in the services."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bfluence.conf import app_settings
from bfluence.durations import format_duration, parse_duration
from communities.models import Community


def _catalogue_choices():
    return [(code, code) for code in app_settings().permission_catalogue]


class DurationTextField(forms.CharField):
    """A ``DUR`` as operators type it (``15m``, ``1h``); blank means the default."""

    def prepare_value(self, value):
        return format_duration(value) if isinstance(value, timedelta) else value

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return parse_duration(value)
        except ValueError as error:
            raise ValidationError(_("Use a number and a unit, like 15m, 1h or 12h.")) from error


class CommunityFieldsMixin(forms.Form):
    permissions = forms.MultipleChoiceField(label=_("Permissions"), required=False,
                                            widget=forms.CheckboxSelectMultiple, choices=_catalogue_choices)
    token_lifetime = DurationTextField(label=_("Token lifetime"), required=False,
                                       help_text=_("Shorter than the default, like 1h; blank: the default."))


class OnboardCommunityForm(CommunityFieldsMixin, forms.Form):
    client_id = forms.CharField(label=_("Client ID"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    field_order = ["client_id", "name", "permissions", "token_lifetime"]


class CommunityChangeForm(CommunityFieldsMixin, forms.ModelForm):
    class Meta:
        model = Community
        fields = ["name", "permissions", "token_lifetime"]


GRACE_CHOICES = [("0s", _("None: the old secret stops now")), ("1h", _("1 hour")), ("24h", _("24 hours")),
                 ("7d", _("7 days"))]


class RotateSecretForm(forms.Form):
    grace = forms.ChoiceField(label=_("The old secret keeps working for"), choices=GRACE_CHOICES, initial="0s")
    revoke_tokens = forms.BooleanField(label=_("Also revoke every live token now"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))

    def cleaned_grace(self) -> timedelta:
        return parse_duration(self.cleaned_data["grace"])
