"""Staff console for stronger client authentication (SPEC §4.1): partners' public keys and each
community's policy. Security staff register and retire keys and set the policy; support only reads.
Every change goes through the same services as the commands, which write the audit trail."""

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from audit.models import AuditEvent
from clients.keys import UnacceptableKey, public_key_parse
from clients.models import ClientAuthPolicy, ClientKey
from clients.policy import METHOD_CLIENT_SECRET, METHOD_PRIVATE_KEY_JWT, networks_normalise
from clients.services import (
    ClosedWay,
    PolicyChange,
    active_keys,
    client_auth_policy_get,
    client_auth_policy_set,
    client_key_add,
    client_key_refuse_if_held_elsewhere,
    closed_ways,
    secret_use_a_change_cuts,
)
from communities.models import Community
from console.admin.credentials import community_link
from console.admin.filters import CommunityFilter
from console.admin.read_only import NoEditingHelpWhenReadOnly
from console.audit_details import history_rows
from console.credential_notes import (
    keys_refused_warning,
    no_way_in_causes,
    no_way_in_note,
    no_way_in_until,
)
from console.forms import ReasonForm, console_time_zoned, console_time_zoned_ago
from console.humane import community_filter_url
from console.pages import render_admin_page, staff_actor
from console.refused_tokens import key_tokens_revoked_said
from console.who_can_act import may_set_policy
from tokens.models import IssuedToken
from tokens.services import (
    BearerUse,
    LastSeenAddress,
    allowlist_refuses_recent_callers,
    community_retire_key,
    dpop_requirement_cuts,
    live_token_split,
)

MAX_KEY_FILE = 16 * 1024
POLICY_HISTORY_SHOWN = 200  # as many as a community's history shows


class RegisterKeyForm(forms.Form):
    """Step 1: the key, pasted or uploaded. Step 2 (ConfirmKeyForm) shows its fingerprint."""

    community = forms.ModelChoiceField(queryset=Community.objects.all(), label=gettext_lazy("Community"))
    public_key = forms.CharField(
        required=False,
        label=gettext_lazy("Public key (PEM or JWK)"),
        max_length=MAX_KEY_FILE,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 70}),
        help_text=gettext_lazy("Paste the text the partner sent, or upload the file below."),
    )
    key_file = forms.FileField(
        required=False,
        label=gettext_lazy("…or the key file"),
        help_text=gettext_lazy("A .pem or .json file with the public key, at most 16 KB."),
    )

    def clean(self):
        cleaned = super().clean() or {}
        text = cleaned.get("public_key") or ""
        upload = cleaned.get("key_file")
        if upload is not None:
            if upload.size > MAX_KEY_FILE:
                raise ValidationError(_("The file is larger than 16 KB: it is not a public key."))
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValidationError(_("The file is not text: upload the .pem or .json file.")) from error
        if not text.strip():
            raise ValidationError(_("Paste the public key or upload its file."))
        try:
            self.parsed = public_key_parse(text)
        except UnacceptableKey as error:
            raise ValidationError(str(error)) from error
        if cleaned.get("community") is not None:  # refused before anyone compares its fingerprint
            client_key_refuse_if_held_elsewhere(
                community=cleaned["community"], thumbprint=self.parsed.thumbprint
            )
        cleaned["key_text"] = text
        return cleaned


class ConfirmKeyForm(forms.Form):
    """Step 2: the key again (hidden), the fingerprint it had when shown, and the staff member's word."""

    community = forms.ModelChoiceField(queryset=Community.objects.all(), widget=forms.HiddenInput)
    public_key = forms.CharField(max_length=MAX_KEY_FILE, widget=forms.HiddenInput)
    thumbprint = forms.CharField(widget=forms.HiddenInput)
    confirmed = forms.BooleanField(
        label=gettext_lazy(
            "I compared this fingerprint with the one the partner gave me: they are the same."
        ),
        error_messages={
            "required": gettext_lazy(
                "Tick the box once you have compared the fingerprint with the partner's. If they differ, "
                "cancel: do not register this key."
            )
        },
    )

    def clean(self):
        cleaned = super().clean() or {}
        try:
            self.parsed = public_key_parse(cleaned.get("public_key") or "")
        except UnacceptableKey as error:
            raise ValidationError(str(error)) from error
        if cleaned.get("thumbprint") and cleaned["thumbprint"] != self.parsed.thumbprint:
            raise ValidationError(_("The key changed after its fingerprint was shown: start again."))
        return cleaned


class RetireKeyForm(ReasonForm):
    keep_tokens = forms.BooleanField(
        required=False,
        label=gettext_lazy("Keep the tokens this key obtained (a planned retirement, not a leak)"),
        help_text=gettext_lazy("Unticked, every live token the key obtained is revoked now."),
    )

    def __init__(self, *args, last: bool = False, tokens_to_revoke: bool = True, **kwargs):
        """``tokens_to_revoke=False``: no live token was obtained with the key, so no box to keep them
        (posted without it, the retirement revokes whatever is live by then: none, or one issued since)."""
        super().__init__(*args, **kwargs)
        if not tokens_to_revoke:
            del self.fields["keep_tokens"]
        if last:
            self.fields["confirm_last"] = forms.BooleanField(
                label=gettext_lazy("Yes, retire the community's last active key."),
                error_messages={
                    "required": gettext_lazy("Tick the box to retire the last active key, or cancel.")
                },
            )


class PickCommunityForm(forms.Form):
    community = forms.ModelChoiceField(queryset=Community.objects.all(), label=gettext_lazy("Community"))


class PolicyForm(forms.Form):
    methods = forms.MultipleChoiceField(
        choices=[
            (METHOD_CLIENT_SECRET, gettext_lazy("Client secret (client_secret)")),
            (METHOD_PRIVATE_KEY_JWT, gettext_lazy("Signature with the partner's key (private_key_jwt)")),
        ],
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Allowed methods"),
        help_text=gettext_lazy(
            "How the partner's server proves who it is: with the secret we handed over, or by signing with "
            "its own private key whose public half is registered here."
        ),
    )
    dpop = forms.ChoiceField(
        choices=[
            ("off", gettext_lazy("Off: tokens are not tied to a key")),
            ("optional", gettext_lazy("Optional: tied when the partner sends a proof")),
            ("required", gettext_lazy("Required: every token must be tied to the partner's key")),
        ],
        label="DPoP",
        help_text=gettext_lazy(
            "DPoP ties each token to a key the partner holds, so a copied token is useless to anyone else."
        ),
    )
    allowed_ips = forms.CharField(
        required=False,
        label=gettext_lazy("Allowed source IPs"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "IPv4/IPv6 addresses or CIDR ranges, one per line or comma-separated. Empty: from anywhere. "
            "A CIDR range is a block of addresses written as its first address and a size, like "
            "203.0.113.0/24 (the 256 addresses 203.0.113.0 to 203.0.113.255)."
        ),
    )
    allowlist_applies_to_api = forms.BooleanField(
        required=False,
        label=gettext_lazy("Also refuse API calls from elsewhere"),
        help_text=gettext_lazy(
            "Tokens already issued too: a call made with one from outside the list gets a 401 (access "
            "refused) from the moment the policy is saved."
        ),
    )
    reason = forms.CharField(
        max_length=500,
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Recorded in the audit trail with your name and IP address."),
    )
    confirm_lockout = forms.BooleanField(
        required=False,
        label=gettext_lazy(
            "Yes, save it: the community cannot get tokens until it has a working credential."
        ),
    )

    confirm_addresses = forms.BooleanField(
        required=False,
        label=gettext_lazy("Yes, save it: requests from the addresses listed above are refused from now on."),
    )
    confirm_secrets_off = forms.BooleanField(
        required=False,
        label=gettext_lazy(
            "Yes, save it: token requests made with a secret are refused from now on, though the partner "
            "used one recently."
        ),
    )
    confirm_dpop_required = forms.BooleanField(
        required=False,
        label=gettext_lazy(
            "Yes, save it: the partner's tokens without DPoP stop working now, and its token requests "
            "without a DPoP proof are refused from now on."
        ),
    )

    def clean_allowed_ips(self):
        """Refused here, in the staff member's language, before anything else is weighed."""
        networks_normalise(self._ip_entries(self.cleaned_data["allowed_ips"]))  # ValidationError: each entry
        return self.cleaned_data["allowed_ips"]

    @staticmethod
    def _ip_entries(text: str) -> list[str]:
        return [entry.strip() for entry in text.replace(",", "\n").splitlines() if entry.strip()]

    def change(self) -> PolicyChange:
        entries = self.cleaned_data["allowed_ips"].replace(",", "\n").splitlines()
        return PolicyChange(
            methods=self.cleaned_data["methods"],
            dpop=self.cleaned_data["dpop"],
            allowed_ips=[entry.strip() for entry in entries if entry.strip()],
            allowlist_applies_to_api=self.cleaned_data["allowlist_applies_to_api"],
        )


# The address box when the allowlist judges API calls too: the tokens already issued stop there as well.
_CONFIRM_ADDRESSES_API_TOO = gettext_lazy(
    "Yes, save it: token requests and API calls (with the tokens already issued) from the addresses listed "
    "above are refused from now on."
)

_KEY_REFUSED = gettext_lazy(
    "It cannot be used until the community's policy accepts keys (private_key_jwt): until then the partner "
    "gets a 401 (access refused) when it signs with it."
)


@admin.register(ClientKey)
class ClientKeyAdmin(NoEditingHelpWhenReadOnly, admin.ModelAdmin):
    add_label = gettext_lazy("Register a partner public key")  # the list's button and the page it opens
    list_display = (
        "short_kid",
        community_link,
        "key_type",
        "short_thumbprint",
        "usable",
        "created_at",
        "last_used_at",
        "retired_at",
    )
    list_filter = ("key_type", ("community", CommunityFilter))
    search_fields = ("=kid", "=thumbprint", "=community__client_id")
    list_select_related = ("community",)
    readonly_fields = (
        "community",
        "kid",
        "thumbprint",
        "key_type",
        "public_jwk",
        "created_at",
        "last_used_at",
        "retired_at",
        "usable",
    )

    def has_change_permission(self, request, obj=None):
        return False  # keys are registered or retired, never edited

    def get_queryset(self, request):
        # No policy row: the defaults, which do not accept keys.
        allows = ClientAuthPolicy.objects.filter(community=OuterRef("community")).values(
            "allow_private_key_jwt"
        )
        return super().get_queryset(request).annotate(policy_allows_keys=Subquery(allows[:1]))

    @admin.display(description=gettext_lazy("usable"))
    def usable(self, key):
        if key.retired_at is not None:
            return pgettext("key", "no: retired")
        if not getattr(key, "policy_allows_keys", None):
            return format_html(
                '<span class="key-refused">{}</span>', _("not yet: the policy does not accept keys")
            )
        return _("yes")

    @admin.display(description=gettext_lazy("key ID (kid)"), ordering="kid")
    def short_kid(self, key):
        if len(key.kid) <= 16:
            return format_html("<code>{}</code>", key.kid)
        return format_html('<code title="{}">{}…</code>', key.kid, key.kid[:12])

    @admin.display(description=gettext_lazy("fingerprint"), ordering="thumbprint")
    def short_thumbprint(self, key):
        """The first 12 characters (all of it on hover, in search and on the key's page)."""
        return format_html('<code title="{}">{}…</code>', key.thumbprint, key.thumbprint[:12])

    def has_delete_permission(self, request, obj=None):
        return False  # retired keys stay, for the trail

    def get_urls(self):
        retire = path(
            "<int:object_id>/retire/",
            self.admin_site.admin_view(self.retire_view),
            name="clients_clientkey_retire",
        )
        return [retire, *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        """Paste or upload the key → its fingerprint, large, with how to compare it → register or cancel."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:clients_clientkey_changelist")
        crumbs = [(changelist, self.model._meta.verbose_name_plural.capitalize())]
        if request.method == "POST" and request.POST.get("step") == "confirm":
            confirm = ConfirmKeyForm(request.POST)
            if confirm.is_valid():
                try:
                    key = client_key_add(
                        community=confirm.cleaned_data["community"],
                        key_text=confirm.cleaned_data["public_key"],
                        actor=staff_actor(request),
                    )
                except ValidationError as error:
                    confirm.add_error(None, error)
                else:
                    self._registered_message(request, key)
                    return HttpResponseRedirect(changelist)
            if hasattr(confirm, "parsed"):
                return self._fingerprint_page(request, confirm, confirm.parsed, crumbs, changelist)
            form = RegisterKeyForm(
                {"community": request.POST.get("community"), "public_key": request.POST.get("public_key")}
            )
            form.is_valid()
        else:
            form = RegisterKeyForm(request.POST or None, request.FILES or None)
            if request.method == "POST" and form.is_valid():
                confirm = ConfirmKeyForm(
                    initial={
                        "community": form.cleaned_data["community"].pk,
                        "public_key": form.cleaned_data["key_text"],
                        "thumbprint": form.parsed.thumbprint,
                    }
                )
                return self._fingerprint_page(request, confirm, form.parsed, crumbs, changelist)
        return render_admin_page(
            request,
            self,
            "console/key_paste.html",
            self.add_label,
            form=form,
            crumbs=crumbs,
            cancel_url=changelist,
        )

    def _registered_message(self, request, key) -> None:
        """Registered, and whether the partner can sign with it yet (the policy may refuse keys)."""
        done = _("Key %(kid)s registered for %(community)s.") % {"kid": key.kid, "community": key.community}
        if client_auth_policy_get(community=key.community).allow_private_key_jwt:
            self.message_user(request, done, messages.SUCCESS)
            return
        self.message_user(request, f"{done} {_KEY_REFUSED}", messages.WARNING)

    def _fingerprint_page(self, request, confirm, parsed, crumbs, changelist):
        community = Community.objects.filter(pk=confirm["community"].value()).first()
        return render_admin_page(
            request,
            self,
            "console/key_confirm.html",
            _("Compare the fingerprint"),
            form=confirm,
            parsed=parsed,
            community=community,
            policy_warning=keys_refused_warning(community) if community else "",
            crumbs=crumbs,
            cancel_url=changelist,
        )

    def retire_view(self, request, object_id):
        if not request.user.has_perm("clients.change_clientkey"):
            raise PermissionDenied
        key = get_object_or_404(ClientKey.objects.select_related("community"), pk=object_id)
        changelist = reverse("admin:clients_clientkey_changelist")
        if key.retired_at is not None:  # Back (or a second click) after retiring it: say so, do nothing
            return render_admin_page(
                request,
                self,
                "console/key_retired.html",
                _("Key already retired"),
                retired=_("Key %(kid)s of %(community)s was already retired on %(moment)s.")
                % {"kid": key.kid, "community": key.community, "moment": console_time_zoned(key.retired_at)},
                changelist=changelist,
                crumbs=[(changelist, self.model._meta.verbose_name_plural.capitalize())],
            )
        others = active_keys(key.community).exclude(pk=key.pk).count()
        last = others == 0
        tokens = live_token_split(
            IssuedToken.objects.filter(community=key.community, client_key=key), now=timezone.now()
        )
        form = RetireKeyForm(
            request.POST or None, last=last, tokens_to_revoke=bool(tokens.working + tokens.refused)
        )
        question = _("Retire key %(kid)s of %(community)s now?") % {
            "kid": key.kid,
            "community": key.community,
        }
        consequence = " ".join(
            [
                _("Assertions signed with it are refused at once; a retired key is never used again."),
                key_tokens_revoked_said(tokens),
            ]
        )
        if last:
            policy = client_auth_policy_get(community=key.community)
            consequence += " " + (
                _(
                    "It is the community's last active key and its policy allows keys only: the partner "
                    "gets a 401 (access refused) on every token request until a new key is registered."
                )
                if policy.methods == [METHOD_PRIVATE_KEY_JWT]
                else _(
                    "It is the community's last active key: the partner can then sign in with its secret only."
                )
            )
        else:
            consequence += " " + ngettext(
                "%(count)s other active key keeps working.",
                "%(count)s other active keys keep working.",
                others,
            ) % {"count": others}
        if request.method == "POST" and form.is_valid():
            retirement = community_retire_key(
                community=key.community,
                kid=key.kid,
                actor=staff_actor(request),
                reason=form.cleaned_data["reason"],
                revoke_tokens=not form.cleaned_data.get("keep_tokens", False),
            )
            revoked = retirement.tokens_revoked
            self.message_user(
                request,
                ngettext(
                    "Key %(kid)s retired; %(count)d token revoked.",
                    "Key %(kid)s retired; %(count)d tokens revoked.",
                    revoked,
                )
                % {"kid": key.kid, "count": revoked},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:clients_clientkey_changelist"))
        return render_admin_page(
            request,
            self,
            "console/confirm_with_reason.html",
            _("Retire a key"),
            form=form,
            question=question,
            consequence=consequence,
            subject=str(key),
            button=_("Retire the key"),
            cancel_url=reverse("admin:clients_clientkey_changelist"),
            crumbs=[
                (
                    reverse("admin:clients_clientkey_changelist"),
                    self.model._meta.verbose_name_plural.capitalize(),
                )
            ],
        )

    def get_list_display(self, request):
        if request.user.has_perm("clients.change_clientkey"):
            return (*self.list_display, "retire_link")
        return self.list_display

    @admin.display(description=gettext_lazy("actions"))
    def retire_link(self, key):
        if key.retired_at is not None:
            return ""
        return format_html(
            '<a class="button retire-key" href="{}">{}</a>',
            reverse("admin:clients_clientkey_retire", args=[key.pk]),
            _("Retire"),
        )


@dataclass(frozen=True)
class PolicyRisks:
    """What saving a policy would cut off: every way in (``closed``: why each way is closed, empty when
    one works), or the addresses the partner calls from (``refused_addresses``). Each needs its own box
    ticked (SPEC §5a, no silent cut-off)."""

    closed: tuple[ClosedWay, ...] = ()
    refused_addresses: tuple[LastSeenAddress, ...] = ()
    secret_last_used: datetime | None = None  # secrets turned off though one was used recently
    bearer_use: BearerUse | None = None  # DPoP required though the partner has tokens without it
    # The allowlist judges API calls too: the tokens the partner holds are refused from outside it.
    allowlist_applies_to_api: bool = False

    @property
    def locks_out(self) -> bool:
        """Every method closed: a deactivated community alone is no lock-out the policy causes."""
        return any(way.about_methods for way in self.closed)

    @property
    def any(self) -> bool:
        return (
            self.locks_out
            or bool(self.refused_addresses)
            or self.secret_last_used is not None
            or self.bearer_use is not None
        )

    def note(self) -> str:
        notes = []
        if self.locks_out:
            notes.append(
                _(
                    "With this policy the community has no working way to authenticate: %(causes)s. Its "
                    "server gets a 401 (access refused) on every token request %(until)s."
                )
                % {"causes": no_way_in_causes(list(self.closed)), "until": no_way_in_until(list(self.closed))}
            )
        if self.refused_addresses:
            count = len(self.refused_addresses)
            notes.append(
                ngettext(
                    "The allowed source IPs leave out the address the partner's server got its tokens from: "
                    "from there it gets a 401 (access refused) on its next token request.",
                    "The allowed source IPs leave out %(count)s addresses the partner's server got its "
                    "tokens from: from them it gets a 401 (access refused) on its next token request.",
                    count,
                )
                % {"count": count}
            )
            if self.allowlist_applies_to_api:
                notes.append(
                    ngettext(
                        "As the list applies to API calls too, the tokens the partner already holds are "
                        "refused from its next call made from there: a 401 (access refused).",
                        "As the list applies to API calls too, the tokens the partner already holds are "
                        "refused from its next call made from them: a 401 (access refused).",
                        count,
                    )
                )
        if self.secret_last_used is not None:
            notes.append(
                _(
                    "This turns client secrets off, but the partner got a token with a secret %(moment)s "
                    "and has never signed with a key: if it still uses the secret, its server gets a 401 "
                    "(access refused) on its next token request."
                )
                % {"moment": console_time_zoned_ago(self.secret_last_used)}
            )
        if self.bearer_use is not None:
            notes.append(_dpop_required_note(self.bearer_use))
        return " ".join(notes)


def _dpop_required_note(use: BearerUse) -> str:
    """What requiring DPoP stops at once: the live tokens without it, and requests without a proof."""
    parts = [
        _(
            "This makes DPoP required: a token not tied to the partner's DPoP key is refused from now on, "
            "and a token request without a DPoP proof gets a 401 (access refused)."
        )
    ]
    if use.live_tokens:
        parts.append(
            ngettext(
                "%(count)s live token of the partner has no DPoP: it stops working at once.",
                "%(count)s live tokens of the partner have no DPoP: they stop working at once.",
                use.live_tokens,
            )
            % {"count": use.live_tokens}
        )
    if use.last_issued_at is not None:
        parts.append(
            _("Last token issued without DPoP: %(moment)s.")
            % {"moment": console_time_zoned_ago(use.last_issued_at)}
        )
    return " ".join(parts)


def policy_risks(community, form: "PolicyForm") -> PolicyRisks:
    """Weigh a valid policy form; an unconfirmed cut-off becomes an error on its box."""
    change = form.change()
    closed = tuple(closed_ways(community=community, methods=change.methods))
    locks_out = any(way.about_methods for way in closed)
    risks = PolicyRisks(
        closed=closed,
        refused_addresses=tuple(
            allowlist_refuses_recent_callers(community=community, allowed_ips=change.allowed_ips or [])
        ),
        # A lock-out already asks, with a stronger box: one cut-off, one question.
        secret_last_used=None if locks_out else secret_use_a_change_cuts(community=community, change=change),
        bearer_use=dpop_requirement_cuts(community=community, dpop=change.dpop),
        allowlist_applies_to_api=bool(change.allowlist_applies_to_api),
    )
    if risks.locks_out and not form.cleaned_data["confirm_lockout"]:
        form.add_error(
            "confirm_lockout",
            _("Tick the box to save a policy that leaves the community no way in, or change it."),
        )
    if risks.refused_addresses and not form.cleaned_data["confirm_addresses"]:
        form.add_error(
            "confirm_addresses",
            _("Tick the box to refuse the addresses the partner calls from, or add them to the list."),
        )
    if risks.secret_last_used is not None and not form.cleaned_data["confirm_secrets_off"]:
        form.add_error(
            "confirm_secrets_off",
            _("Tick the box to turn secrets off although the partner used one recently, or keep secrets on."),
        )
    if risks.bearer_use is not None and not form.cleaned_data["confirm_dpop_required"]:
        form.add_error(
            "confirm_dpop_required",
            _(
                "Tick the box to require DPoP although the partner has tokens without it, or keep DPoP "
                "optional until it sends proofs."
            ),
        )
    return risks


def _address_line(address: LastSeenAddress) -> str:
    return _("%(ip)s: last token issued %(moment)s") % {
        "ip": address.source_ip,
        "moment": console_time_zoned_ago(address.last_token_at),
    }


@admin.register(ClientAuthPolicy)
class ClientAuthPolicyAdmin(NoEditingHelpWhenReadOnly, admin.ModelAdmin):
    add_label = gettext_lazy("Set a community's policy")  # the list's button and the page it opens
    list_display = ("community", "methods_allowed", "dpop", "ips", "allowlist_applies_to_api", "updated_at")
    list_select_related = ("community",)
    # The read-only page (support's view) shows the addresses as the list does: "qualquer lugar" for an
    # empty allowlist, never a bare "—" that reads as "none allowed".
    fields = readonly_fields = (
        "community",
        "allow_client_secret",
        "allow_private_key_jwt",
        "dpop",
        "ips",
        "allowlist_applies_to_api",
        "updated_at",
    )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("allowed methods"))
    def methods_allowed(self, policy):
        names = []
        if policy.allow_client_secret:
            names.append(_("secret"))
        if policy.allow_private_key_jwt:
            names.append(_("key"))
        return ", ".join(names)

    @admin.display(description=gettext_lazy("allowed source IPs"))
    def ips(self, policy):
        return ", ".join(policy.allowed_ips) or _("anywhere")

    def get_urls(self):
        set_policy = path(
            "set/<int:community_id>/",
            self.admin_site.admin_view(self.set_view),
            name="clients_clientauthpolicy_set",
        )
        return [set_policy, *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        """Pick the community; its policy is then edited on the set page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PickCommunityForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            return HttpResponseRedirect(
                reverse("admin:clients_clientauthpolicy_set", args=[form.cleaned_data["community"].pk])
            )
        return render_admin_page(
            request,
            self,
            "console/form_page.html",
            self.add_label,
            form=form,
            button=_("Next"),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:clients_clientauthpolicy_set", args=[object_id]))
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        """The policy's changes as the audit trail holds them: the console changes a policy through a
        service that writes an audit row, never through Django's forms, so Django's own history (LogEntry)
        would say nothing was ever changed."""
        policy = self.get_object(request, object_id)
        if policy is None or not self.has_view_or_change_permission(request, policy):
            raise PermissionDenied
        community = policy.community
        events = AuditEvent.objects.filter(
            community=community, event_type=AuditEvent.EventType.CLIENT_AUTH_POLICY_SET
        ).order_by("-occurred_at", "-id")
        shown = history_rows(events[:POLICY_HISTORY_SHOWN])
        return render_admin_page(
            request,
            self,
            "console/community_history.html",
            _("Changes of the policy of %(community)s") % {"community": community},
            events=shown,
            total=events.count() if len(shown) == POLICY_HISTORY_SHOWN else len(shown),
            policy_history=True,
            community_history_url=reverse("admin:communities_community_history", args=[community.pk]),
            audit_url=community_filter_url("audit_auditevent", community),
            crumbs=[
                (
                    reverse("admin:clients_clientauthpolicy_changelist"),
                    self.model._meta.verbose_name_plural.capitalize(),
                ),
                (reverse("admin:clients_clientauthpolicy_change", args=[community.pk]), str(policy)),
            ],
        )

    def set_view(self, request, community_id):
        if not may_set_policy(request.user):  # the community page's banner links here only when this holds
            raise PermissionDenied
        community = get_object_or_404(Community, pk=community_id)
        current = client_auth_policy_get(community=community)
        initial = {
            "methods": current.methods,
            "dpop": current.dpop,
            "allowed_ips": "\n".join(current.allowed_ips),
            "allowlist_applies_to_api": current.allowlist_applies_to_api,
        }
        form = PolicyForm(request.POST or None, initial=initial)
        risks = PolicyRisks()
        if request.method == "POST" and form.is_valid():
            risks = policy_risks(community, form)
        if request.method == "POST" and form.is_valid():
            try:
                client_auth_policy_set(
                    community=community,
                    change=form.change(),
                    actor=staff_actor(request),
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    _("Client authentication of %(community)s saved.") % {"community": community},
                    messages.SUCCESS,
                )
                if no_way_in := no_way_in_note(community):
                    self.message_user(request, no_way_in, messages.WARNING)
                return HttpResponseRedirect(reverse("admin:clients_clientauthpolicy_changelist"))
        if not risks.locks_out:
            del form.fields["confirm_lockout"]  # asked only when the change would lock the partner out
        if not risks.refused_addresses:
            del form.fields["confirm_addresses"]  # asked only when it refuses where the partner calls from
        elif risks.allowlist_applies_to_api:
            form["confirm_addresses"].label = _CONFIRM_ADDRESSES_API_TOO  # the bound field, as rendered
        if risks.secret_last_used is None:
            del form.fields["confirm_secrets_off"]  # asked only when the partner still seems to use a secret
        if risks.bearer_use is None:
            del form.fields["confirm_dpop_required"]  # asked only when requiring DPoP stops Bearer use
        return render_admin_page(
            request,
            self,
            "console/form_page.html",
            _("Client authentication of %(community)s") % {"community": community},
            form=form,
            button=_("Save"),
            cancel_url=reverse("admin:clients_clientauthpolicy_changelist"),
            danger=risks.any,
            danger_note=risks.note(),
            danger_items=[_address_line(address) for address in risks.refused_addresses],
        )
