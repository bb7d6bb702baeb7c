"""Staff screens for tokens, revocation requests and the audit trail. Records here are read-only:
staff act on them only through services (revoke, open, complete), which write the audit trail."""

from datetime import timedelta
from itertools import groupby
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.text import Truncator, get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from audit.models import AuditEvent
from clients.services import keys_outlasting_secrets, secrets_a_rotation_ends
from communities.models import Community
from console.admin.filters import (
    ALL_FEMININE,
    CommunityAuditFilter,
    CommunityFilter,
    DateFilter,
    Labelled,
    StatusFilter,
)
from console.admin.read_only import NoEditingHelpWhenReadOnly
from console.admin.related_links import NoRelatedLinks
from console.audit_details import actor_html, details_html
from console.credential_notes import (
    communities_a_new_secret_is_not_enough_for,
    community_inactive_warning,
    community_named,
    keys_elsewhere_note,
    keys_retire_separately,
    keys_still_work,
    keys_still_work_note,
    keys_still_work_note_for,
    new_secret_not_enough_elsewhere_note,
    new_secret_not_enough_marks,
    new_secret_still_refused_note,
    pending_request,
    pending_request_for,
    pending_request_notice,
    request_keys_still_work_note,
    secrets_refused_warning,
    secrets_suspended_by,
)
from console.forms import HandleRequestForm, ReasonForm, console_time
from console.humane import ago, by_whom, staff_name, who, words_list
from console.models import FormSubmission
from console.once import (
    AlreadySubmitted,
    form_already_submitted,
    form_done_note,
    form_done_url,
    form_key_claim,
    form_key_new,
    secret_page_url,
    secret_reveal_later,
)
from console.pages import render_admin_page, staff_actor
from console.refused_tokens import refused_reasons, refused_revoked_too
from console.second_factor import is_security_member, staff_action_refused
from console.sudo import form_data, password_prompt
from console.who_can_act import (
    RefusedOnRequest,
    only_security_completes_note,
    opened_by_security_member,
    opener_cannot_complete_note,
    request_completer,
    request_opener_username,
)
from tokens.models import IssuedToken, RevocationRequest
from tokens.services import (
    TokenRefusal,
    TokensCompletionRevokes,
    api_allowlist,
    live_token_split,
    live_tokens,
    refused_though_live,
    revocation_request_handle,
    revocation_request_open,
    token_refusals,
    tokens_a_completion_revokes,
    tokens_revoke,
)

# A pending request older than this is flagged in the queue.
REQUEST_LATE_AFTER = timedelta(hours=1)


class ReadOnlyAdmin(NoEditingHelpWhenReadOnly, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.display(description=gettext_lazy("community"), ordering="community__client_id")
def community_link(record):
    if record.community_id is None:
        return "—"
    client_id = record.community.client_id
    return format_html(
        '<a href="{}" title="{}">{}</a>',
        reverse("admin:communities_community_change", args=[record.community_id]),
        client_id,
        client_id,
    )


class TokenStateFilter(Labelled, admin.SimpleListFilter):
    title = gettext_lazy("state")
    all_label = ALL_FEMININE  # "Situação: Todas"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("active", pgettext("token", "active")),
            (
                "refused",
                pgettext("token", "refused (DPoP required or community inactive)"),
            ),
            ("expired", pgettext("token", "expired")),
            ("revoked", pgettext("token", "revoked")),
        ]

    def queryset(self, request, queryset):
        """As the state column says: a live token the API refuses (its community inactive, or its policy
        requiring DPoP) is "refused", not "active". Not the allowlist: it refuses calls, not tokens."""
        now = timezone.now()
        if self.value() in ("active", "refused"):
            live = live_tokens(queryset, now=now)
            refused = refused_though_live()
            return live.exclude(refused) if self.value() == "active" else live.filter(refused)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


def _token_is_live(token) -> bool:
    return token.revoked_at is None and token.expires_at > timezone.now()


def _revoke_selected_question(live: list) -> str:
    """N active tokens, and apart, M the API refuses all the same, and why (as the state column says)."""
    selected = IssuedToken.objects.filter(pk__in=[token.pk for token in live])
    split = live_token_split(selected, now=timezone.now())
    if not split.working:
        return ngettext(
            "Revoke the token already refused by the API (%(reasons)s)?",
            "Revoke the %(count)s tokens already refused by the API (%(reasons)s)?",
            split.refused,
        ) % {"count": split.refused, "reasons": refused_reasons(split)}
    question = ngettext(
        "Revoke %(count)s active token?", "Revoke %(count)s active tokens?", split.working
    ) % {"count": split.working}
    return f"{question} {refused_revoked_too(split)}" if split.refused else question


# What the state column says for each reason (tokens.services.token_refusals): the token's own end...
_TOKEN_ENDED = {
    TokenRefusal.REVOKED: pgettext_lazy("token", "revoked"),
    TokenRefusal.EXPIRED: pgettext_lazy("token", "expired"),
}
# ...and, after "recusado:", why the API refuses it though it has not ended.
_TOKEN_REFUSED_BECAUSE = {
    TokenRefusal.COMMUNITY_INACTIVE: pgettext_lazy("token refused", "the community is inactive"),
    TokenRefusal.DPOP_REQUIRED: pgettext_lazy("token refused", "the policy requires DPoP"),
}


def _active_state(token, *, on_page: bool) -> str:
    """A live token the API takes. The allowlist judges each call's address, whatever the token (one issued
    outside it works from inside it): the token's page says so, once."""
    if on_page and api_allowlist(token):
        return pgettext("token", "active (accepted only from IPs on the allowlist)")
    return pgettext("token", "active")


def token_state(token, *, on_page: bool = False) -> str:
    """Every reason the API refuses the token, not only the first it meets: "revogado; expirado;
    recusado: a comunidade está desativada e a política exige DPoP". A token is masculine in Portuguese
    ("ativo, expirado, revogado"), a community feminine ("ativa")."""
    refusals = token_refusals(token, now=timezone.now())
    if not refusals:
        return _active_state(token, on_page=on_page)
    parts = [str(_TOKEN_ENDED[refusal]) for refusal in refusals if refusal in _TOKEN_ENDED]
    causes = [
        str(_TOKEN_REFUSED_BECAUSE[refusal]) for refusal in refusals if refusal in _TOKEN_REFUSED_BECAUSE
    ]
    if causes:
        parts.append(pgettext("token", "refused: %(causes)s") % {"causes": get_text_list(causes, _("and"))})
    return "; ".join(parts)


@admin.register(IssuedToken)
class IssuedTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "short_jti",
        community_link,
        "state",
        "scope",
        "issued_at",
        "expires_at",
        "revoked",
        "source_ip",
        "revoke_button",
    )
    list_filter = (TokenStateFilter, ("community", CommunityFilter))
    change_list_template = "console/issuedtoken_change_list.html"
    search_fields = ("=jti", "=community__client_id")
    # The policy with the token: the state says when DPoP required refuses it, at no query per row.
    list_select_related = ("community", "community__auth_policy")
    date_hierarchy = "issued_at"
    actions = ("revoke_selected",)

    @admin.display(description=gettext_lazy("state"))
    def state(self, token):
        return token_state(token)

    @admin.display(description=gettext_lazy("state"))
    def state_on_page(self, token):
        """As the list says it, and whether an allowlist limits where calls with it come from."""
        return token_state(token, on_page=True)

    @admin.display(description=gettext_lazy("token ID (jti)"), ordering="jti")
    def short_jti(self, token):
        """The first 12 characters (the whole ID on hover and in search): the list stays readable."""
        return format_html('<code title="{}">{}…</code>', token.jti, token.jti[:12])

    @admin.display(description=gettext_lazy("revoked"), ordering="revoked_at")
    def revoked(self, token):
        if not token.revoked_at:
            return "—"
        return _("%(moment)s %(by_whom)s") % {
            "moment": console_time(token.revoked_at),
            "by_whom": by_whom(token.revoked_by),
        }

    @admin.display(description=gettext_lazy("revoked by"))
    def revoked_by_name(self, token):
        return who(token.revoked_by)

    def get_queryset(self, request):
        """The token's page reads its community's policy with it, for the state (as the list does)."""
        return super().get_queryset(request).select_related("community", "community__auth_policy")

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "revoked_by_name", "state_on_page"]

    def get_fields(self, request, obj=None):
        """The token's page names who revoked it as the list does ("Sueli Prado"), not "staff:sup1", and
        says its state as the list does (refused by the policy, too), right after the community."""
        fields = []
        for field in super().get_fields(request, obj):
            if field in ("revoked_by_name", "state_on_page"):
                continue
            fields.append({"revoked_by": "revoked_by_name"}.get(field, field))
            if field == "community":
                fields.append("state_on_page")
        return fields

    @admin.display(description=gettext_lazy("actions"))
    def revoke_button(self, token):
        if not _token_is_live(token):
            return ""
        return format_html(
            '<a class="button revoke-one" href="{}">{}</a>',
            reverse("admin:tokens_issuedtoken_revoke", args=[token.pk]),
            _("Revoke"),
        )

    def has_revoke_permission(self, request):
        return request.user.has_perm("tokens.revoke_issuedtoken")

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if self.has_revoke_permission(request) else [f for f in shown if f != "revoke_button"]

    def get_urls(self):
        revoke = path(
            "<path:object_id>/revoke/",
            self.admin_site.admin_view(self.revoke_one_view),
            name="tokens_issuedtoken_revoke",
        )
        return [revoke] + super().get_urls()

    def revoke_one_view(self, request, object_id):
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        token = get_object_or_404(IssuedToken.objects.select_related("community"), pk=object_id)
        return self._confirm_and_revoke(request, IssuedToken.objects.filter(pk=token.pk), hidden=[])

    @admin.action(description=gettext_lazy("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        hidden = [("action", "revoke_selected")] + [(ACTION_CHECKBOX_NAME, token.pk) for token in queryset]
        return self._confirm_and_revoke(request, queryset, hidden=hidden)

    def _confirm_and_revoke(self, request, queryset, *, hidden):
        # Back to the list as staff had filtered, searched and sorted it: the action posts to the list's
        # own address (its query string), the one-token page carries it as `_changelist_filters`.
        changelist = add_preserved_filters(
            {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts},
            reverse("admin:tokens_issuedtoken_changelist"),
        )
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        tokens = list(
            queryset.select_related("community", "community__auth_policy").order_by(
                "community_id", "-issued_at"
            )
        )
        live = [token for token in tokens if _token_is_live(token)]
        if not live:  # never "revoke 0 tokens?": nothing to confirm
            self.message_user(
                request, _("None of these tokens is active: there is nothing to revoke."), messages.WARNING
            )
            return HttpResponseRedirect(changelist)
        if form.is_bound and form.is_valid():
            revoked = 0
            for community, group in groupby(tokens, key=lambda token: token.community):
                revoked += tokens_revoke(
                    community=community,
                    jtis=[token.jti for token in group],
                    actor=staff_actor(request),
                    reason=form.cleaned_data["reason"],
                )
            for token in tokens:  # in "Recent actions" too, with the reason
                if _token_is_live(token):
                    self.log_change(
                        request, token, _("Revoked: %(reason)s") % {"reason": form.cleaned_data["reason"]}
                    )
            self.message_user(
                request,
                ngettext("%(count)s token revoked.", "%(count)s tokens revoked.", revoked)
                % {"count": revoked},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(changelist)
        return render_admin_page(
            request,
            self,
            "console/confirm_with_reason.html",
            _("Revoke tokens"),
            form=form,
            question=_revoke_selected_question(live),
            consequence=_(
                "Their next request gets a 401. Tokens already revoked or expired stay as they are."
            ),
            listed={
                "headings": [_("token ID (jti)"), _("community"), _("state"), _("expires at")],
                "rows": [
                    (
                        token.jti,
                        token.community.client_id,
                        token_state(token),
                        console_time(token.expires_at),
                    )
                    for token in tokens
                ],
            },
            hidden_fields=hidden,
            button=_("Revoke"),
            cancel_url=changelist,
            crumbs=[(changelist, self.model._meta.verbose_name_plural.capitalize())],
        )


class RevocationRequestForm(forms.ModelForm):
    form_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    # Shown (in the page's warning) only when the chosen community already has a pending request.
    open_another = forms.BooleanField(
        required=False, label=gettext_lazy("Open another request for this community anyway")
    )

    class Meta:
        model = RevocationRequest
        fields = ["community", "reason"]
        labels = {"community": gettext_lazy("Community"), "reason": gettext_lazy("Reason")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Back onto this form once sent fetches it anew (no-store); Chromium puts back no value of a
        # control that is autocomplete="off" (console/form_page.html says so on its whole form).
        for field in self.fields.values():
            # A related field's widget is drawn by the one inside the admin's wrapper.
            drawn = getattr(field.widget, "widget", field.widget)
            drawn.attrs["autocomplete"] = "off"
        # The community as sent, or ?community= on the way in (not a field on a request's own page).
        chosen = self["community"].value() if "community" in self.fields else None
        self.pending = pending_request_for(chosen)
        # A request suspends secrets only: say so when the chosen community's keys keep working.
        self.keys_note = keys_still_work_note_for(chosen) if chosen else ""
        self.keys_elsewhere = "" if chosen else keys_elsewhere_note()
        # Nor is a new secret enough everywhere: name where it is not, so "until completed" is said of the
        # others only.
        not_enough = communities_a_new_secret_is_not_enough_for() if "community" in self.fields else []
        self.not_enough_elsewhere = "" if chosen else new_secret_not_enough_elsewhere_note(not_enough)
        # The red box names only the first few: the dropdown marks every one, so whichever is picked, the
        # page says before saving that completing the request gives it no access back.
        if not_enough:
            self._mark_where_a_new_secret_is_not_enough(new_secret_not_enough_marks(not_enough))
        # Completing the request gives access back only if the policy accepts secrets and the community
        # is active: else say what else is needed.
        community = community_named(chosen) if chosen else None
        self.secret_still_refused = new_secret_still_refused_note(community) if community is not None else ""

    def _mark_where_a_new_secret_is_not_enough(self, marks: dict[int, str]) -> None:
        field = cast(forms.ModelChoiceField, self.fields["community"])
        plain = field.label_from_instance
        field.label_from_instance = lambda community: (
            f"{plain(community)} — {marks[community.pk]}" if community.pk in marks else plain(community)
        )

    def clean(self):
        cleaned = super().clean()
        community = cleaned.get("community")
        self.pending = pending_request(community) if community is not None else None
        if self.pending is not None and not cleaned.get("open_another"):
            raise ValidationError(
                _(
                    "This community already has a pending request: open it, or tick the box to open "
                    "another one anyway."
                )
            )
        return cleaned

    def pending_note(self) -> str:
        return pending_request_notice(self.pending) if self.pending is not None else ""


def _opened_counts(revocation) -> dict[str, str]:
    tokens, secrets = revocation.tokens_revoked, revocation.secrets_suspended
    return {
        # The number and client_id, not str(revocation): the sentence starts with its article ("O pedido").
        "id": str(revocation.pk),
        "client_id": revocation.community.client_id,
        "tokens": ngettext("%(count)s token revoked", "%(count)s tokens revoked", tokens) % {"count": tokens}
        if tokens
        else _("no active token to revoke"),
        "secrets": ngettext("%(count)s secret suspended", "%(count)s secrets suspended", secrets)
        % {"count": secrets}
        if secrets
        else _("no working secret to suspend"),
    }


def request_opened_summary(revocation, *, keys_link: bool = False) -> str:
    """ "O pedido #3 de acme foi aberto: 2 tokens revogados e 1 segredo suspenso. O parceiro recebe 401…",
    in pieces: what opening it did; until when the partner is locked out, or, when keys the policy admits
    outlast the secrets, that they still work; who completes the request, by name, as the request's page
    says (never a security member who opened it: the two-person rule), or whom to ask; and what else a new
    secret needs (a keys-only policy, a deactivated community). Plain text for the done page, with the link
    to the community's keys for the message (``keys_link``)."""
    community = revocation.community
    opened = _("Request #%(id)s of %(client_id)s was opened: %(tokens)s and %(secrets)s.") % _opened_counts(
        revocation
    )
    completer, whom_to_ask = request_completer(
        opener_username=request_opener_username(revocation),
        opener_is_security=opened_by_security_member(revocation),
    )
    still_refused = new_secret_still_refused_note(community)
    after = [whom_to_ask, still_refused]
    completes = _("A new secret is handed over only when %(who)s completes the request.") % {"who": completer}
    keys = keys_outlasting_secrets(community=community)
    if not keys:
        # "401 until it is completed" only when completing it is enough; else the next part says what is.
        until = (
            " ".join([_("The partner gets a 401 (access refused)."), completes])
            if still_refused
            else _(
                "The partner gets a 401 (access refused) until %(who)s completes the request and hands over a "
                "new secret."
            )
            % {"who": completer}
        )
        return " ".join(part for part in [opened, until, *after] if part)
    if keys_link:
        rest = " ".join(part for part in [completes, *after] if part)
        return format_html("{} {} {}", opened, keys_still_work_note(community), rest)
    return " ".join(
        part for part in [opened, keys_still_work(keys), keys_retire_separately(), completes, *after] if part
    )


def _who_completes_what_you_open(viewer) -> dict[str, str]:
    """The request form's lines on who completes the request the viewer opens: by name, "another member"
    only to a security member (support is not in the group), or whom to ask when nobody can."""
    completer, whom_to_ask = request_completer(
        opener_username=viewer.get_username(), opener_is_security=is_security_member(viewer)
    )
    return {
        "until_completed": _(
            "The partner stays cut off until %(who)s completes the request and hands over a new secret."
        )
        % {"who": completer},
        "only_when_completed": _(
            "Without an active key that its policy accepts, the partner gets tokens again only when %(who)s "
            "completes the request and hands over a new secret."
        )
        % {"who": completer},
        # Before a community is chosen, when some are listed where a new secret is not enough.
        "until_completed_elsewhere": _(
            "In the other communities, the partner stays cut off until %(who)s completes the request and "
            "hands over a new secret."
        )
        % {"who": completer},
        "only_when_completed_elsewhere": _(
            "In the other communities, without an active key that its policy accepts, the partner gets tokens "
            "again only when %(who)s completes the request and hands over a new secret."
        )
        % {"who": completer},
        # When a new secret is not enough (keys-only policy, deactivated community): no "until" at all.
        "handed_over_when": _("A new secret is handed over only when %(who)s completes the request.")
        % {"who": completer},
        "whom_to_ask": whom_to_ask,
    }


def _opened_by_me(revocation, request) -> bool:
    return request_opener_username(revocation) == request.user.get_username()


@admin.register(RevocationRequest)
class RevocationRequestAdmin(NoEditingHelpWhenReadOnly, NoRelatedLinks, admin.ModelAdmin):
    add_label = gettext_lazy("Open a revocation request")  # the list's button and the page it opens
    form = RevocationRequestForm
    change_form_template = "console/revocationrequest_change_form.html"
    # The first column says community and status ("Pedido #3 de acme (pendente)"): the rest fits 1280 px.
    list_display = ("name_and_status", "reason_short", "waiting", "opener", "tokens_revoked", "completed")
    list_filter = (("status", StatusFilter), ("community", CommunityFilter))
    ordering = ("-status", "created_at")  # "pending" sorts after "done": pending first, oldest first
    list_select_related = ("community", "handled_by")

    @admin.display(description=gettext_lazy("revocation request"), ordering="status")
    def name_and_status(self, revocation):
        return _("%(request)s (%(status)s)") % {
            "request": revocation,
            "status": revocation.get_status_display(),
        }

    @admin.display(description=gettext_lazy("reason"))
    def reason_short(self, revocation):
        return Truncator(revocation.reason).chars(120)

    @admin.display(description=gettext_lazy("opened by"), ordering="opened_by")
    def opener(self, revocation):
        kind, _sep, _name = revocation.opened_by.partition(":")
        return _("the partner") if kind == "partner" else who(revocation.opened_by)

    @admin.display(description=gettext_lazy("completed"), ordering="handled_at")
    def completed(self, revocation):
        if revocation.handled_at is None:
            return "—"
        return _("%(moment)s by %(who)s") % {
            "moment": console_time(revocation.handled_at),
            "who": revocation.handled_by.get_full_name() or revocation.handled_by.get_username(),
        }

    @admin.display(description=gettext_lazy("secrets suspended"))
    def suspended_secrets_shown(self, revocation):
        """How many secrets opening the request suspended, and which (by their start): while it is pending
        they stay suspended; once it is completed they are ended for good, as the community page says."""
        count = revocation.secrets_suspended
        if not count:
            return _("no working secret to suspend")
        if revocation.status == RevocationRequest.Status.PENDING:
            said = ngettext(
                "%(count)s secret, suspended by this request until it is completed",
                "%(count)s secrets, suspended by this request until it is completed",
                count,
            )
        else:
            said = ngettext(
                "%(count)s secret, suspended by this request and ended when it was completed",
                "%(count)s secrets, suspended by this request and ended when it was completed",
                count,
            )
        hints = [secret.hint for secret in secrets_suspended_by(revocation=revocation)]
        said %= {"count": count}
        return f"{said}: {words_list(hints)}" if hints else said

    @admin.display(description=gettext_lazy("waiting"), ordering="created_at")
    def waiting(self, revocation):
        if revocation.status != RevocationRequest.Status.PENDING:
            return "—"
        late = timezone.now() - revocation.created_at > REQUEST_LATE_AFTER
        return format_html(
            '<span class="{}">{}{}</span>',
            "waiting-late" if late else "waiting",
            "⚠ " if late else "",
            ago(revocation.created_at),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "community",
            "reason",
            "status",
            "opener",
            "source",
            "source_ip",
            "tokens_revoked",
            "suspended_secrets_shown",
            "created_at",
            "completed",  # when and by whom, in one row ("—" while pending)
        )

    def get_fields(self, request, obj=None):
        return ("community", "reason", "form_key") if obj is None else self.get_readonly_fields(request, obj)

    _scope = "revocation-request"

    def get_changeform_initial_data(self, request):
        """Each visit to the form: a new one-time key (console.once)."""
        return {**super().get_changeform_initial_data(request), "form_key": form_key_new()}

    def add_view(self, request, form_url="", extra_context=None):
        key = request.POST.get("form_key", "")
        if request.method == "POST" and FormSubmission.objects.filter(key=key, staff=request.user).exists():
            return HttpResponseRedirect(form_done_url(key))
        extra_context = {
            **(extra_context or {}),
            "title": self.add_label,
            "save_label": _("Open the request: suspend the secrets and revoke the tokens now"),
            "save_danger": True,
            "cancel_url": reverse("admin:tokens_revocationrequest_changelist"),
            **_who_completes_what_you_open(request.user),
        }
        try:
            return super().add_view(request, form_url, extra_context)
        except AlreadySubmitted:  # the same form twice at once: the other one acted
            return HttpResponseRedirect(form_done_url(key))

    def save_model(self, request, obj, form, change):
        # A request that reached staff by phone or e-mail: same service, same immediate revocation.
        submission = form_key_claim(
            key=form.cleaned_data["form_key"], user=request.user, scope=self._scope, page=request.path
        )
        created = revocation_request_open(
            community=obj.community, reason=obj.reason, actor=staff_actor(request)
        )
        form_done_note(submission, request_opened_summary(created))
        obj.pk = created.pk
        obj.refresh_from_db()

    def log_addition(self, request, obj, message):
        # "Recent actions" says what opening it was and why ("Aberto: …"), as it does for a completion.
        return super().log_addition(request, obj, _("Opened: %(reason)s") % {"reason": obj.reason})

    def response_add(self, request, obj, post_url_continue=None):
        """What opening it did, in counts, and what it means for the partner (not Django's "added")."""
        self.message_user(request, request_opened_summary(obj, keys_link=True), messages.SUCCESS)
        return self.response_post_save_add(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        handle = path(
            "<int:object_id>/handle/",
            self.admin_site.admin_view(self.handle_view),
            name="tokens_revocationrequest_handle",
        )
        return [handle] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        revocation = self.get_object(request, object_id)
        mine = revocation is not None and _opened_by_me(revocation, request)
        may_handle = request.user.has_perm("tokens.handle_revocationrequest")
        pending = revocation is not None and revocation.status == RevocationRequest.Status.PENDING
        extra_context = {
            **(extra_context or {}),
            "can_handle": may_handle and not mine,
            "handle_blocked": opener_cannot_complete_note(request.user)
            if mine and may_handle and pending
            else "",
            # Support may see a pending request but not complete it: say who can, or it waits on no one.
            "only_security_completes": only_security_completes_note(revocation)
            if pending and not may_handle
            else "",
            # Support answers the partner from this page: "cut off" is untrue while a key still works.
            "keys_note": request_keys_still_work_note(revocation) if revocation is not None else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(sensitive_post_parameters())
    def handle_view(self, request, object_id):
        revocation = get_object_or_404(RevocationRequest.objects.select_related("community"), pk=object_id)
        if not request.user.has_perm("tokens.handle_revocationrequest"):
            raise RefusedOnRequest(revocation)  # the refusal names who can complete it: never its opener
        back = reverse("admin:tokens_revocationrequest_change", args=[revocation.pk])
        scope = f"handle:{revocation.pk}"
        if replayed := form_already_submitted(request):  # the request is closed by now: say so, once
            return HttpResponseRedirect(replayed)
        if revocation.status != RevocationRequest.Status.PENDING or _opened_by_me(revocation, request):
            if revocation.status == RevocationRequest.Status.PENDING:  # the two-person rule said no
                staff_action_refused(
                    actor=staff_actor(request),
                    action="revocation_request_complete",
                    subject=str(revocation.pk),
                    why="same_person",
                )
            self.message_user(
                request,
                _("This request is closed.")
                if revocation.status != "pending"
                else opener_cannot_complete_note(request.user),
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        if prompt := password_prompt(request, request.path):
            return prompt
        # Exactly what the rotation below ends (its audit row's ended_hints), newest first.
        ending = secrets_a_rotation_ends(community=revocation.community)
        form = HandleRequestForm(form_data(request), ending=ending)  # each visit: a new one-time key
        if request.method == "POST" and form.is_valid():
            key = form.cleaned_data["form_key"]
            try:
                with transaction.atomic():
                    submission = form_key_claim(key=key, user=request.user, scope=scope, page=request.path)
                    rotation = revocation_request_handle(
                        revocation=revocation,
                        staff_user=request.user,
                        source_ip=staff_actor(request).source_ip,
                        reason=form.cleaned_data["reason"],
                    )
                    form_done_note(
                        submission,
                        _("%(request)s was completed: a new secret was created and shown once.")
                        % {"request": str(revocation)},
                    )
            except AlreadySubmitted:
                return HttpResponseRedirect(secret_page_url(key))
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return HttpResponseRedirect(back)
            self.log_change(
                request, revocation, _("Completed: %(reason)s") % {"reason": form.cleaned_data["reason"]}
            )
            return secret_reveal_later(
                request,
                key,
                community=revocation.community,
                client_secret=rotation.client_secret,
                title=_("%(request)s completed: the new client secret") % {"request": str(revocation)},
                note=_tokens_revoked_at_completion(rotation.tokens_revoked, revocation),
            )
        changelist = reverse("admin:tokens_revocationrequest_changelist")
        live = tokens_a_completion_revokes(revocation=revocation)
        suspended = secrets_suspended_by(revocation)
        return render_admin_page(
            request,
            self,
            "console/form_page.html",
            _("Complete request #%(id)s of %(client_id)s")
            % {"id": revocation.pk, "client_id": revocation.community.client_id},
            form=form,
            button=_("Rotate the secret, close the request and show the new secret"),
            crumbs=[(changelist, self.model._meta.verbose_name_plural.capitalize()), (back, str(revocation))],
            cancel_url=back,
            danger=True,
            warning=_report_line(revocation),
            danger_note=_ending_warning(len(ending)) if ending else "",
            danger_items=[_ending_line(secret, revocation) for secret in ending],
            notes=[
                ("nothing-else-ends", "" if ending else _no_secret_ends(revocation, live, suspended)),
                ("suspended-end-for-good", _suspended_end_for_good(suspended)),
                ("tokens-completion-revokes", _tokens_completion_revokes(live)),
                # Said before the button, as the keys-only case is: the new secret cannot work yet.
                ("community-deactivated", community_inactive_warning(revocation.community)),
                ("policy-refuses-secrets", secrets_refused_warning(revocation.community)),
                ("keys-still-work", keys_still_work_note(revocation.community)),
            ],
        )


def _tokens_revoked_at_completion(count: int, revocation) -> str:
    """Zero is the usual case: the tokens went when the request was opened. Say that (or that there was
    none to revoke at all), not "0 tokens"."""
    if not count and revocation.tokens_revoked:
        return _("No active token remained: they were revoked when the request was opened.")
    if not count:
        return _("No active token to revoke.")
    return ngettext("%(count)s live token revoked.", "%(count)s live tokens revoked.", count) % {
        "count": count
    }


def _report_line(revocation) -> str:
    """Who reported it, in words that fit: the partner, a colleague in the console, or a secret scanner."""
    reason = Truncator(revocation.reason).chars(300)
    if revocation.source == RevocationRequest.Source.STAFF:
        return _("Opened in the console by %(who)s: %(reason)s") % {
            "who": who(revocation.opened_by),
            "reason": reason,
        }
    if revocation.source == RevocationRequest.Source.SECRET_SCANNING:
        return _("A secret scanner reported the secret found at %(url)s: %(reason)s") % {
            "url": revocation.evidence_url or "—",
            "reason": reason,
        }
    return _("The partner reported: %(reason)s") % {"reason": reason}


def _ending_warning(count: int) -> str:
    return ngettext(
        "Completing the request ends at once this secret, which still works: a partner using it gets a "
        "401 (access refused) until it receives the secret shown next.",
        "Completing the request ends at once these %(count)s secrets, which still work: a partner using "
        "one gets a 401 (access refused) until it receives the secret shown next.",
        count,
    ) % {"count": count}


def _ending_line(secret, revocation) -> str:
    """hint, created, until when it works now, last use: each secret the completion stops."""
    until = (
        _("works with no end date (the current secret)")
        if secret.valid_until is None
        else _("works until %(moment)s (grace window)") % {"moment": console_time(secret.valid_until)}
    )
    created = console_time(secret.created_at)
    if secret.created_at > revocation.created_at:
        created = _("%(moment)s, after this request was opened") % {"moment": created}
    last_use = ago(secret.last_used_at) if secret.last_used_at else _("never")
    return _("%(hint)s: created %(created)s; %(until)s; last used: %(last_use)s") % {
        "hint": secret.hint,
        "created": created,
        "until": until,
        "last_use": last_use,
    }


def _no_secret_ends(revocation, live: TokensCompletionRevokes, suspended: list) -> str:
    """No secret works: completing hands none a 401. "Ends nothing more" only when it truly ends nothing:
    no suspended secret (completing ends those for good) and no live token."""
    if not suspended:
        said = _("No secret works now.")
    else:
        said = ngettext(
            "No secret works now: the request suspended it when it was opened (%(moment)s).",
            "No secret works now: the request suspended them when it was opened (%(moment)s).",
            len(suspended),
        ) % {"moment": console_time(revocation.created_at)}
    if live.count or suspended:
        return said
    return " ".join([said, _("Completing it ends nothing more.")])


def _suspended_end_for_good(suspended: list) -> str:
    """The secrets the request suspended, by hint: completing ends them for good, as the completion's audit
    row records, so staff read it before they click."""
    if not suspended:
        return ""
    return ngettext(
        "Completing it ends for good the secret the request suspended, starting with %(hints)s: it can "
        "never work again.",
        "Completing it ends for good the %(count)s secrets the request suspended, starting with "
        "%(hints)s: none can ever work again.",
        len(suspended),
    ) % {"count": len(suspended), "hints": words_list([secret.hint for secret in suspended])}


def _tokens_completion_revokes(live: TokensCompletionRevokes) -> str:
    """The live tokens completing revokes (issued since the request was opened), and with what they were
    obtained: a key the request left working keeps getting new ones."""
    if not live.count:
        return ""
    if live.all_with_key and keys_outlasting_secrets(community=live.community):
        return ngettext(
            "Completing it revokes the live token the partner obtained since the request was opened, with "
            "its key: calls with it get a 401 (access refused). The key itself keeps working: the partner "
            "can get new tokens with it.",
            "Completing it revokes the %(count)s live tokens the partner obtained since the request was "
            "opened, with its key: calls with them get a 401 (access refused). The key itself keeps "
            "working: the partner can get new tokens with it.",
            live.count,
        ) % {"count": live.count}
    return ngettext(
        "Completing it revokes the live token issued since the request was opened: calls with it get a "
        "401 (access refused).",
        "Completing it revokes the %(count)s live tokens issued since the request was opened: calls with "
        "them get a 401 (access refused).",
        live.count,
    ) % {"count": live.count}


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "occurred_at",
        "event_type",
        "actor_name",
        "community_shown",
        "short_jti",
        "source_ip",
        "details_readable",
    )
    list_filter = (
        "event_type",
        "actor_type",
        ("community", CommunityAuditFilter),
        ("occurred_at", DateFilter),
    )
    search_fields = ("actor", "=client_id", "=jti")
    change_form_template = "console/auditevent_change_form.html"
    date_hierarchy = "occurred_at"
    list_select_related = ("community",)

    def get_queryset(self, request):
        """Each row with the community its client_id names, in the page's one query: a refused
        authentication with a known client_id is written with no community (known and unknown client_ids
        cost the same at request time), yet staff read it as that community's."""
        client_community = Community.objects.filter(client_id=OuterRef("client_id")).values("pk")[:1]
        return super().get_queryset(request).annotate(client_community_id=Subquery(client_community))

    @admin.display(description=gettext_lazy("who"), ordering="actor")
    def actor_name(self, event):
        return actor_html(event)

    @staticmethod
    def _client_known(event) -> bool:
        return event.community_id is not None or getattr(event, "client_community_id", None) is not None

    @admin.display(description=gettext_lazy("community"), ordering="community__client_id")
    def community_shown(self, event):
        if event.community_id is not None or getattr(event, "client_community_id", None) is None:
            return community_link(event)
        return format_html(
            '<a href="{}" title="{}">{}</a>',
            reverse("admin:communities_community_change", args=[event.client_community_id]),
            event.client_id,
            event.client_id,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The page names a staff member as colleagues know them; the row keeps the username."""
        event = self.get_object(request, object_id)
        if event is not None and event.actor_type == AuditEvent.ActorType.STAFF:
            title = _("%(event)s by %(actor)s") % {
                "event": event.get_event_type_display(),
                "actor": staff_name(event.actor),
            }
            extra_context = {**(extra_context or {}), "subtitle": title}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("token ID (jti)"), ordering="jti")
    def short_jti(self, event):
        if not event.jti:
            return "—"
        return format_html('<code title="{}">{}…</code>', event.jti, event.jti[:12])

    @admin.display(description=gettext_lazy("details"))
    def details_readable(self, event):
        return details_html(event.details, client_known=self._client_known(event))

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            "details_readable",
            "actor_name",
            "community_shown",
        ]

    def get_fields(self, request, obj=None):
        fields = [
            {"actor": "actor_name", "community": "community_shown"}.get(f, f)
            for f in super().get_fields(request, obj)
            if f not in ("details", "actor_name", "community_shown")
        ]
        return [*fields, "details_readable"] if "details_readable" not in fields else fields
