"""Staff console forms. Validation of substance stays in the services."""

from datetime import timedelta
from enum import StrEnum

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bfluence.conf import app_settings
from bfluence.durations import format_duration, parse_duration
from communities.models import Community, Member
from communities.services import client_id_validate, token_lifetime_validate
from console.humane import ago, duration, zone_label
from console.once import form_key_new
from console.refused_tokens import refused_reasons
from tokens.services import LiveTokenSplit


def _catalogue_choices():
    return [(code, code) for code in app_settings().permission_catalogue]


def console_time(moment) -> str:
    """A moment as staff read it: their zone (activated by the middleware), the console's one format."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def console_time_zoned(moment) -> str:
    """The same, naming the zone, where a moment stands alone ("28/11/2026 21:03 (horário de Brasília)")."""
    return f"{console_time(moment)} ({zone_label()})"


def console_time_zoned_inside_brackets(moment) -> str:
    """The same for a moment said inside brackets: "(válido até 08/12/2026 10:59, horário de Brasília)",
    never brackets in brackets."""
    return f"{console_time(moment)}, {zone_label()}"


def console_time_zoned_ago(moment) -> str:
    """The same with how long ago, in the one bracket: "28/11/2026 21:03 (horário de Brasília, agora há
    pouco)", never "(horário de Brasília) (agora há pouco)"."""
    return str(_("%(moment)s (%(zone)s, %(ago)s)")) % {
        "moment": console_time(moment),
        "zone": zone_label(),
        "ago": ago(moment),
    }


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


def reason_field(
    help_text=_("Recorded in the audit trail with your name and IP address."),
) -> forms.CharField:
    return forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class ReasonForm(forms.Form):
    reason = reason_field()


class OnceForm(forms.Form):
    """A form whose action must happen once: it carries a random key the action claims (console.once)."""

    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("form_key"):
            self.initial["form_key"] = form_key_new()


class CommunityFieldsMixin(forms.Form):
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=_catalogue_choices,
    )
    token_lifetime = DurationTextField(
        label=_("Token lifetime"),
        required=False,
        help_text=_("Shorter than the default, like 1h; blank: the default."),
    )

    def clean_token_lifetime(self):
        """Beside the field, with every other field's error, not one at a time after the others pass."""
        return token_lifetime_validate(self.cleaned_data["token_lifetime"])


class OnboardCommunityForm(OnceForm, CommunityFieldsMixin):
    client_id = forms.CharField(label=_("Client ID"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    field_order = ["client_id", "name", "permissions", "token_lifetime"]

    def clean_client_id(self):
        return client_id_validate(self.cleaned_data["client_id"])

    def service_arguments(self) -> dict:
        return {key: self.cleaned_data[key] for key in ("client_id", "name", "permissions", "token_lifetime")}


class CommunityChangeForm(CommunityFieldsMixin, forms.ModelForm):
    reason = reason_field()

    class Meta:
        model = Community
        fields = ["name", "permissions", "token_lifetime"]


class MemberForm(forms.ModelForm):
    reason = reason_field()

    class Meta:
        model = Member
        fields = ["community", "reference", "bflus"]


GRACE_OPTIONS = ["0s", "1h", "24h", "7d"]


def grace_choices() -> list[tuple[str, str]]:
    """Each grace window in words, as the audit trail says it ("1 dia"), with the moment it ends."""
    now = timezone.now()
    choices = [(GRACE_OPTIONS[0], _("None: the old secret stops now"))]
    for value in GRACE_OPTIONS[1:]:
        grace = parse_duration(value)
        label = _("%(duration)s (until %(moment)s)") % {
            "duration": duration(grace.total_seconds()),
            "moment": console_time_zoned(now + grace),
        }
        choices.append((value, label))
    return choices


class GraceFormMixin(forms.Form):
    grace = forms.ChoiceField(label=_("Grace window"), choices=grace_choices)

    def cleaned_grace(self) -> timedelta:
        if "grace" not in self.fields:  # nothing to give a grace window to
            return timedelta(0)
        return parse_duration(self.cleaned_data["grace"])


class SecretsRefusedBy(StrEnum):
    POLICY = "policy"  # the community's policy accepts keys only
    DEACTIVATION = "deactivation"

    @property
    def why(self) -> str:
        """ "a política não aceita segredos": why a secret in its grace window gets no token now."""
        if self is SecretsRefusedBy.POLICY:
            return str(_("the policy does not accept secrets"))
        return str(_("the community is deactivated"))

    @property
    def until(self) -> str:
        """ "a política voltar a aceitar segredos": what would make a secret in its grace window work again."""
        if self is SecretsRefusedBy.POLICY:
            return str(_("the policy accepts secrets again"))
        return str(_("the community is reactivated"))


def _grace_help_while_secrets_refused(cause: SecretsRefusedBy) -> str:
    """Neither secret works now, so the old one gets no token during its grace window; it would again if
    the cause ends before the window does, which is what a leaked secret must not be given."""
    if cause is SecretsRefusedBy.POLICY:
        return _(
            "The policy does not accept secrets now, so neither secret works. The grace window matters only "
            "if the policy accepts secrets again before it ends: the old secret would then work until it "
            "ends. If the secret leaked, choose no grace."
        )
    # The page's note already says the community is deactivated and neither secret works: not again.
    return _(
        "The grace window matters only if the community is reactivated before the window ends: the old "
        "secret would then work until it ends. If the secret leaked, choose no grace."
    )


def revoke_tokens_label(tokens: LiveTokenSplit) -> str:
    """The revoke box counts what it revokes before it is ticked, those the API already refuses apart
    (the same split and words as the other confirmations that revoke tokens). Only offered with a live
    token: a box that revokes none would do nothing."""
    live = tokens.working + tokens.refused
    label = ngettext("Also revoke the live token now", "Also revoke the %(count)s live tokens now", live) % {
        "count": live
    }
    if not tokens.refused:
        return label
    if not tokens.working:
        refused = ngettext(
            "(already refused by the API: %(reasons)s)",
            "(all already refused by the API: %(reasons)s)",
            live,
        )
    else:
        refused = ngettext(
            "(%(count)s of them already refused by the API: %(reasons)s)",
            "(%(count)s of them already refused by the API: %(reasons)s)",
            tokens.refused,
        )
    return f"{label} {refused % {'count': tokens.refused, 'reasons': refused_reasons(tokens)}}"


def _end_in_grace_label(ending, secrets_refused_by: SecretsRefusedBy | None) -> str:
    """The tick box that ends a secret in its grace window: "stops working now" only if it works now; a
    secret the API refuses anyway is ended for good (it would work again if the cause ended in time). The
    moment without its zone: the red box above names it."""
    if secrets_refused_by is None:
        return str(_("Yes, the secret starting with %(hint)s stops working now.") % {"hint": ending.hint})
    return str(
        _(
            "Yes, end the secret starting with %(hint)s for good (it would work again until %(moment)s if "
            "%(until)s)."
        )
        % {
            "hint": ending.hint,
            "moment": console_time(ending.valid_until),
            "until": secrets_refused_by.until,
        }
    )


class RotateSecretForm(OnceForm, GraceFormMixin):
    revoke_tokens = forms.BooleanField(
        label=_("Also revoke every live token now"),
        required=False,
        help_text=_(
            "With a grace window, whoever holds the old secret can still get new tokens until it "
            "ends: revoking the live tokens does not lock them out. If the secret leaked, choose "
            "no grace."
        ),
    )
    reason = reason_field()
    field_order = ["grace", "revoke_tokens", "reason"]

    def __init__(
        self,
        *args,
        ending=None,
        grace=True,
        tokens_help="",
        secrets_refused_by: SecretsRefusedBy | None = None,
        tokens: LiveTokenSplit | None = None,
        **kwargs,
    ):
        """``ending``: an older secret still in its grace window, which this rotation ends at once.
        ``grace=False``: no grace window to offer (no secret works now: a pending revocation request
        suspended them), so the new secret works at once and nothing is asked; ``tokens_help`` then says
        what the tokens already issued do. ``secrets_refused_by``: why no secret works now though a grace
        window is on offer (the policy, a deactivated community): the old one gets no token meanwhile.
        ``tokens``: the live tokens now, counted on the revoke box; with none, no box (a POST without
        it revokes nothing)."""
        super().__init__(*args, **kwargs)
        revocable = tokens is None or bool(tokens.working + tokens.refused)
        if tokens is not None and revocable:
            self.fields["revoke_tokens"].label = revoke_tokens_label(tokens)
        # A routine rotation: the partner gets a day to switch. A leak: staff pick "None".
        self.fields["grace"].initial = "24h"
        self._place_help(
            grace=grace, revocable=revocable, tokens_help=tokens_help, refused_by=secrets_refused_by
        )
        if not grace:
            del self.fields["grace"]
        if not revocable:
            del self.fields["revoke_tokens"]
        self.ending = ending
        if ending is not None:
            self.fields["ending_hint"] = forms.CharField(
                widget=forms.HiddenInput, required=False, initial=ending.hint
            )
            self.fields["end_secret_in_grace"] = forms.BooleanField(
                label=_end_in_grace_label(ending, secrets_refused_by),
                error_messages={
                    "required": _(
                        "Tick the box to end that secret now, or cancel and rotate after its grace window."
                    )
                },
            )

    def _place_help(
        self, *, grace: bool, revocable: bool, tokens_help: str, refused_by: SecretsRefusedBy | None
    ) -> None:
        """The usual help (on the revoke box) weighs a grace window against revoking. With no grace on
        offer, the box says only what the tokens already issued do (as the API takes them now: see
        console/issued_tokens_notes.py). With no box (no live token), what the grace window does goes
        under the grace window instead."""
        if not grace:
            self.fields["revoke_tokens"].help_text = tokens_help
        elif refused_by is not None:
            grace_help = _grace_help_while_secrets_refused(refused_by)
            if revocable:  # what revoking does to the tokens already issued, then what the grace window would
                self.fields["revoke_tokens"].help_text = " ".join(
                    str(part) for part in (tokens_help, grace_help) if part
                )
            else:
                self.fields["grace"].help_text = grace_help
        elif not revocable:
            self.fields["grace"].help_text = _(
                "With a grace window, whoever holds the old secret can still get new tokens until it ends. "
                "If the secret leaked, choose no grace."
            )

    def clean(self):
        cleaned = super().clean()
        if self.ending is not None and self.data.get("ending_hint") != self.ending.hint:
            raise ValidationError(
                _("The secrets changed since this page was opened: read the warning again before confirming.")
            )
        return cleaned


class HandleRequestForm(OnceForm):
    """No grace to choose: the reported secrets were suspended when the request was opened (SPEC §2.7).

    ``ending``: every secret that still works now (a newer one someone created meanwhile, or one a secret
    scanner's report did not name); completing the request ends them all at once, so that takes an
    explicit confirmation naming each."""

    reason = reason_field()

    def __init__(self, *args, ending=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.ending_hints = " ".join(secret.hint for secret in ending)
        if ending:
            self.fields["newer_hint"] = forms.CharField(
                widget=forms.HiddenInput, required=False, initial=self.ending_hints
            )
            self.fields["end_newer_secret"] = forms.BooleanField(
                label=ngettext(
                    "Yes, the secret starting with %(hints)s stops working now.",
                    "Yes, the %(count)s secrets starting with %(hints)s stop working now.",
                    len(ending),
                )
                % {"hints": ", ".join(secret.hint for secret in ending), "count": len(ending)},
                error_messages={
                    "required": _("Tick the box to end that secret now, or cancel and ask who created it.")
                },
            )

    def clean(self):
        cleaned = super().clean()
        if self.ending_hints and self.data.get("newer_hint") != self.ending_hints:
            raise ValidationError(
                _("The secrets changed since this page was opened: read the warning again before confirming.")
            )
        return cleaned
