"""Staff screens for communities and members. Every action calls the same services as the commands."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.debug import sensitive_post_parameters

from audit.models import AuditEvent
from audit.selectors import community_events_q
from clients.models import ClientAuthPolicy, ClientKey, ClientSecret
from clients.policy import METHOD_CLIENT_SECRET, METHOD_PRIVATE_KEY_JWT
from clients.services import (
    client_auth_policy_get,
    closed_ways,
    community_create,
    secret_expire_previous,
    secret_in_grace,
    working_methods,
)
from communities.models import Community, Member
from communities.services import community_reactivate, community_update, member_set_bflus
from console.admin.credentials import token_state
from console.admin.filters import CommunityActiveFilter, CommunityFilter
from console.admin.read_only import NoEditingHelpWhenReadOnly
from console.admin.related_links import NoRelatedLinks
from console.audit_details import audit_cap_words, history_rows, outsider_refusals_note
from console.credential_notes import (
    allowlist_line,
    no_token_banner,
    no_way_in_causes,
    no_way_in_until,
    pending_request,
    pending_request_banner,
    pending_request_cell,
    policy_line,
    rotate_dpop_line,
    rotate_inactive_warning,
    secrets_held_suspended,
    secrets_refused_warning,
    secrets_suspended_line,
)
from console.forms import (
    CommunityChangeForm,
    MemberForm,
    OnboardCommunityForm,
    ReasonForm,
    RotateSecretForm,
    SecretsRefusedBy,
    console_time,
    console_time_zoned,
)
from console.humane import ago, community_filter_url, quoted_hint, words_list
from console.issued_tokens_notes import revoke_tokens_help, stop_previous_secret_consequence
from console.once import (
    AlreadySubmitted,
    form_already_submitted,
    form_done_note,
    form_key_claim,
    secret_page_url,
    secret_reveal_later,
)
from console.pages import render_admin_page, staff_actor
from console.reactivation_notes import reactivation_credentials_line
from console.refused_tokens import refused_reasons, refused_revoked_too
from console.sudo import form_data, password_prompt
from console.usage import api_chart, community_usage, usage_chart
from console.who_can_act import may_rotate_secret, reactivated_by_line
from tokens.models import IssuedToken, RevocationRequest
from tokens.services import (
    NO_LIVE_TOKEN,
    LiveTokenSplit,
    community_deactivate,
    community_rotate_secret,
    live_token_split,
    live_token_splits,
    tokens_revoke_all,
)

HISTORY_SHOWN = 200
TOKENS_LISTED = 50  # on a confirmation that revokes a community's tokens; the rest are counted
KEYS_SHOWN = 10  # as many as secrets: the active ones first (at most five), then the latest retired
#: The partner's own traffic: kept in the audit trail, not actions anyone took about the community, and as
#: many rows as calls (tokens issued are in the usage figures too; refused API calls are counted and linked
#: in the history's introduction instead). A refused authentication that names the community (its policy
#: refused a real credential) stays a row: it is what staff look for when a partner says "we get 401".
TRAFFIC = (
    AuditEvent.EventType.TOKEN_ISSUED,
    AuditEvent.EventType.API_CALL_REFUSED,
)


def community_history(community):
    """The rows that name the community. The refusals that name only its client_id are counted apart
    (``outsider_refusals_note``): anyone can write those, and they must not push staff actions off the
    newest ``HISTORY_SHOWN``."""
    return (
        AuditEvent.objects.filter(community=community)
        .exclude(event_type__in=TRAFFIC)
        .order_by("-occurred_at", "-id")
    )


def _secret_line(
    secret: ClientSecret,
    now,
    suspended: frozenset[int] = frozenset(),
    accepted: bool = True,
    community_active: bool = True,
) -> tuple:
    """hint · created · state · last use: enough for staff to see when an old secret is safe to stop.

    A secret a pending revocation request stopped (``suspended``) reads "suspended", as on the request's
    page; once the request is completed it reads "ended", as does one whose grace window ran out (or was
    ended early); a valid one a deactivated community (first: it refuses every credential) or the policy
    refuses says so, as a key does (support reads this list when a partner says "we get 401")."""
    if secret.valid_until is not None and secret.valid_until <= now:
        state = pgettext("secret", "suspended") if secret.pk in suspended else pgettext("secret", "ended")
    elif not community_active and secret.valid_until is None:
        state = _("current, not usable: the community is deactivated")
    elif not community_active:
        state = _("valid until %(moment)s, not usable: the community is deactivated") % {
            "moment": console_time(secret.valid_until)
        }
    elif not accepted:
        state = _("valid, not usable: the policy does not accept secrets")
    elif secret.valid_until is None:
        state = _("current")
    else:
        state = _("valid until %(moment)s") % {"moment": console_time(secret.valid_until)}
    last_use = ago(secret.last_used_at) if secret.last_used_at else _("never used")
    return secret.hint, console_time(secret.created_at), state, last_use


def _accepts_secrets(community) -> bool:
    try:
        return community.auth_policy.allow_client_secret
    except ClientAuthPolicy.DoesNotExist:  # no row: the defaults, which accept secrets
        return True


def _secrets_refused_by(community) -> SecretsRefusedBy | None:
    """Why no secret works now whatever the rotation does, as the rotate page's notes say it."""
    if not community.is_active:
        return SecretsRefusedBy.DEACTIVATION
    if not _accepts_secrets(community):
        return SecretsRefusedBy.POLICY
    return None


def _key_cells(key: ClientKey, accepted: bool) -> str:
    """kid (a link to the key's page) · fingerprint · state · last use; a long kid and the fingerprint
    show their start, all of it on hover, as in the list of keys."""
    if key.retired_at is not None:
        state = pgettext("key", "retired on %(moment)s") % {"moment": console_time(key.retired_at)}
    elif not accepted:
        state = _("active, not usable: the policy does not accept keys")
    else:
        state = pgettext("key", "active")
    return format_html(
        '<td><a href="{}" title="{}"><code>{}</code></a></td><td><code title="{}">{}…</code></td>'
        "<td>{}</td><td>{}</td>",
        reverse("admin:clients_clientkey_change", args=[key.pk]),
        key.kid,
        key.kid if len(key.kid) <= 16 else f"{key.kid[:12]}…",
        key.thumbprint,
        key.thumbprint[:12],
        state,
        ago(key.last_used_at) if key.last_used_at else pgettext("key", "never used"),
    )


def _live_tokens(community):
    return IssuedToken.objects.filter(
        community=community, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def token_split(community) -> LiveTokenSplit:
    """The community's live tokens, working and refused: what the list attached
    (``get_changelist_instance``), else counted for this one community (its page)."""
    split = getattr(community, "token_split", None)
    if split is None:
        split = live_token_split(IssuedToken.objects.filter(community=community), now=timezone.now())
    return split


def _valid_secrets(community) -> int:
    return ClientSecret.objects.filter(community=community).exclude(valid_until__lte=timezone.now()).count()


def _previous_secrets(community) -> int:
    return max(_valid_secrets(community) - 1, 0)


def _no_grace_note(pending) -> str:
    if pending is not None:
        return _(
            "No grace window: the secrets this request suspended stay suspended, and the new secret works "
            "at once."
        )
    return _("No grace window: no secret works now, so the new secret works at once.")


@admin.register(Community)
class CommunityAdmin(NoEditingHelpWhenReadOnly, admin.ModelAdmin):
    form = CommunityChangeForm
    add_label = gettext_lazy("Onboard a community")  # the list's button and the page it opens
    change_form_template = "console/community_change_form.html"
    list_display = (
        "client_id",
        "name",
        "is_active",
        "permission_list",
        "live_tokens",
        "last_token_issued",
        "secrets_summary",
    )
    list_filter = (("is_active", CommunityActiveFilter),)
    search_fields = ("client_id", "name")
    readonly_fields = (
        "client_id",
        "is_active",
        "secrets_overview",
        "keys_overview",
        "tokens_revoked_before",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("client_id", "name", "is_active", "permissions", "token_lifetime", "reason")}),
        (
            gettext_lazy("Credentials"),
            {"fields": ("secrets_overview", "keys_overview", "tokens_revoked_before")},
        ),
        # "Dates", not "History": the page's button of that name opens the community's whole history.
        (gettext_lazy("Dates"), {"fields": ("created_at", "updated_at")}),
    )

    def get_fieldsets(self, request, obj=None):
        """Read-only viewers (support) see the permissions as a list and no reason field to fill in."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        main = tuple(
            "permission_list" if field == "permissions" else field
            for field in fieldsets[0][1]["fields"]
            if field != "reason"
        )
        return ((None, {"fields": main}), *fieldsets[1:])

    # --- list --------------------------------------------------------------------------------------
    def get_queryset(self, request):
        live = IssuedToken.objects.filter(
            community=OuterRef("pk"), revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        latest = IssuedToken.objects.filter(community=OuterRef("pk")).order_by("-issued_at")
        pending = RevocationRequest.objects.filter(
            community=OuterRef("pk"), status=RevocationRequest.Status.PENDING
        ).order_by("created_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                live_token_count=Subquery(live.values("community").annotate(n=Count("pk")).values("n")[:1]),
                last_issued=Subquery(latest.values("issued_at")[:1]),
                pending_request_id=Subquery(pending.values("pk")[:1]),
            )
            .select_related("auth_policy")
            .prefetch_related("secrets")
        )

    def get_changelist_instance(self, request):
        """The page's communities get their live tokens split, working and refused, in one go (one query
        for the page, not one per row)."""
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        splits = live_token_splits(IssuedToken.objects.filter(community__in=rows), now=timezone.now())
        for community in rows:
            community.token_split = splits.get(community.pk, NO_LIVE_TOKEN)
        return changelist

    @admin.display(description=gettext_lazy("permissions"))
    def permission_list(self, community):
        return ", ".join(community.permissions) or "—"

    @admin.display(description=gettext_lazy("live tokens"), ordering="live_token_count")
    def live_tokens(self, community):
        """The tokens that work; those the API refuses though live (DPoP required and none bound, issued
        outside the allowlist it applies to API calls, community inactive) said apart, with why."""
        split = token_split(community)
        if not split.refused:
            return split.working
        return ngettext(
            "%(working)s (and %(refused)s refused by the API: %(reasons)s)",
            "%(working)s (and %(refused)s refused by the API: %(reasons)s)",
            split.refused,
        ) % {"working": split.working, "refused": split.refused, "reasons": refused_reasons(split)}

    @admin.display(description=gettext_lazy("last token issued"), ordering="last_issued")
    def last_token_issued(self, community):
        return console_time(community.last_issued) if community.last_issued else "—"

    @admin.display(description=gettext_lazy("valid secrets (hint · created · state · last use)"))
    def secrets_summary(self, community):
        """The valid secrets; above them, a pending revocation request (support scans this list during an
        incident), linked."""
        now = timezone.now()
        valid = [secret for secret in community.secrets.all() if secret.is_valid_at(now)]
        lines = format_html_join(
            mark_safe("<br>"),
            "<code>{}</code> · {} · {} · {}",
            (
                _secret_line(
                    secret, now, accepted=_accepts_secrets(community), community_active=community.is_active
                )
                for secret in valid
            ),
        )
        pending = getattr(community, "pending_request_id", None)  # annotated by get_queryset
        if pending is None:
            return lines or "—"
        cell = pending_request_cell(pending, secrets_left=bool(valid))
        return format_html("{}<br>{}", cell, lines) if lines else cell

    @admin.display(description=gettext_lazy("secrets"))
    def secrets_overview(self, community):
        now = timezone.now()
        suspended, accepted = secrets_held_suspended(community=community), _accepts_secrets(community)
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                _secret_line(secret, now, suspended, accepted, community.is_active)
                for secret in community.secrets.all()[:10]
            ),
        )
        return format_html(
            '<table id="secrets" class="console-table"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}'
            "</table>",
            _("hint"),
            _("created"),
            _("state"),
            _("last use"),
            rows,
        )

    @admin.display(description=gettext_lazy("public keys"))
    def keys_overview(self, community):
        """The community's registered keys, as its secrets are shown above: each links to its page, and
        the list of keys filtered to the community is one click away."""
        keys = ClientKey.objects.filter(community=community).order_by(
            F("retired_at").desc(nulls_first=True), "-created_at"
        )
        shown = list(keys[:KEYS_SHOWN])
        all_keys = format_html(
            '<a id="community-keys-list" href="{}">{}</a>',
            community_filter_url("clients_clientkey", community),
            _("All keys of %(client_id)s") % {"client_id": community.client_id},
        )
        if not shown:
            return format_html('<p id="keys">{}</p>', _("No public key registered."))
        accepted = client_auth_policy_get(community=community).allow_private_key_jwt
        rows = format_html_join("", "<tr>{}</tr>", ((_key_cells(key, accepted),) for key in shown))
        return format_html(
            '<table id="keys" class="console-table"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}'
            "</table><p>{}</p>",
            _("key ID (kid)"),
            _("fingerprint"),
            _("state"),
            _("last use"),
            rows,
            all_keys,
        )

    # --- onboarding (the add page) -----------------------------------------------------------------
    @method_decorator(sensitive_post_parameters())
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        scope = "onboard"
        if replayed := form_already_submitted(request):
            return HttpResponseRedirect(replayed)
        if prompt := password_prompt(request, request.path):
            return prompt
        form = OnboardCommunityForm(form_data(request))  # each visit: a new one-time key
        if request.method == "POST" and form.is_valid():
            key = form.cleaned_data["form_key"]
            try:
                with transaction.atomic():
                    submission = form_key_claim(key=key, user=request.user, scope=scope, page=request.path)
                    created = community_create(actor=staff_actor(request), **form.service_arguments())
                    form_done_note(
                        submission,
                        _("%(name)s was created with its first secret.") % {"name": created.community},
                    )
            except AlreadySubmitted:
                return HttpResponseRedirect(secret_page_url(key))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                # "Recent actions" says what was made, not a bare "Adicionado.".
                self.log_addition(request, created.community, _("Created with its first secret"))
                return secret_reveal_later(
                    request,
                    key,
                    community=created.community,
                    client_secret=created.client_secret,
                    title=_("Community created: its client secret"),
                )
        return render_admin_page(
            request,
            self,
            "console/form_page.html",
            self.add_label,
            form=form,
            button=_("Create community and show its secret"),
            crumbs=[
                (
                    reverse("admin:communities_community_changelist"),
                    self.model._meta.verbose_name_plural.capitalize(),
                )
            ],
            cancel_url=reverse("admin:communities_community_changelist"),
        )

    def save_model(self, request, obj, form, change):
        community_update(
            community=obj,
            actor=staff_actor(request),
            name=form.cleaned_data["name"],
            permissions=form.cleaned_data["permissions"],
            token_lifetime=form.cleaned_data["token_lifetime"],
            reason=form.cleaned_data["reason"],
        )

    def has_delete_permission(self, request, obj=None):
        return False  # communities are deactivated, never deleted: their history must stay

    # --- the community page: actions, links to its whole history, usage ---------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = request.user
        community = self.get_object(request, object_id)
        extra = {}
        if community is not None:
            usage = community_usage(community)
            extra = {
                "can_rotate": may_rotate_secret(user),
                "can_revoke": user.has_perm("communities.revoke_community_tokens")
                and _count_live(community) > 0,
                "can_deactivate": user.has_perm("communities.deactivate_community"),
                "has_previous_secret": _previous_secrets(community) > 0,
                "usage": usage,
                "usage_chart": usage_chart(usage),
                "api_chart": api_chart(usage),
                "audit_cap": audit_cap_words(),
                "last_seen": console_time(usage.last_seen) if usage.last_seen else None,
                "history_links": self._history_links(community),
                "no_token_banner": no_token_banner(community, viewer=user),
                "secrets_suspended_line": secrets_suspended_line(community),
                "policy_line": policy_line(community),
                "allowlist_line": allowlist_line(community),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def history_view(self, request, object_id, extra_context=None):
        """Every audited action about the community, newest first: Django's own history lists only what
        was done through its forms (LogEntry), which misses revocations, requests, policy and keys."""
        community = self.get_object(request, object_id)
        if community is None or not self.has_view_or_change_permission(request, community):
            raise PermissionDenied
        events = community_history(community)
        shown = history_rows(events[:HISTORY_SHOWN])
        return render_admin_page(
            request,
            self,
            "console/community_history.html",
            _("History of %(name)s") % {"name": community},
            events=shown,
            total=events.count() if len(shown) == HISTORY_SHOWN else len(shown),
            audit_url=community_filter_url("audit_auditevent", community),
            outsider_refusals=outsider_refusals_note(community),
            # Not listed: a partner's client retrying from outside its allowlist writes one per call.
            refused_api_calls=AuditEvent.objects.filter(
                community=community, event_type=AuditEvent.EventType.API_CALL_REFUSED
            ).count(),
            refused_api_calls_url=community_filter_url("audit_auditevent", community)
            + f"&event_type__exact={AuditEvent.EventType.API_CALL_REFUSED}",
            crumbs=self._crumbs(community),
        )

    @staticmethod
    def _history_links(community) -> list[tuple[str, str]]:
        tokens = IssuedToken.objects.filter(community=community).count()
        split = token_split(community)
        pending = RevocationRequest.objects.filter(
            community=community, status=RevocationRequest.Status.PENDING
        ).count()
        requests = RevocationRequest.objects.filter(community=community).count()
        events = AuditEvent.objects.filter(community_events_q(community)).count()
        return [
            (
                community_filter_url("tokens_issuedtoken", community),
                ngettext("%(count)s token", "%(count)s tokens", tokens) % {"count": tokens}
                + (
                    " "
                    + ngettext(
                        "(%(count)s refused by the API: %(reasons)s)",
                        "(%(count)s refused by the API: %(reasons)s)",
                        split.refused,
                    )
                    % {"count": split.refused, "reasons": refused_reasons(split)}
                    if split.refused
                    else ""
                ),
            ),
            ("#secrets", _("secrets")),
            ("#keys", _("public keys")),
            (
                community_filter_url("tokens_revocationrequest", community),
                ngettext("%(count)s revocation request", "%(count)s revocation requests", requests)
                % {"count": requests}
                + (
                    " " + ngettext("(%(count)s pending)", "(%(count)s pending)", pending) % {"count": pending}
                    if pending
                    else ""
                ),
            ),
            (
                community_filter_url("audit_auditevent", community),
                ngettext("%(count)s audit event", "%(count)s audit events", events) % {"count": events},
            ),
            (community_filter_url("communities_member", community), _("members")),
        ]

    # --- actions on one community ------------------------------------------------------------------
    def get_urls(self):
        def view(function, name):
            return path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(function),
                name=f"communities_community_{name.replace('-', '_')}",
            )

        return [
            view(self.rotate_secret_view, "rotate-secret"),
            *(
                view(partial(self._reason_action, action=action), name)
                for name, action in REASON_ACTIONS.items()
            ),
        ] + super().get_urls()

    def _community(self, request, object_id, permission: str) -> Community:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Community, pk=object_id)

    @staticmethod
    def _change_url(community) -> str:
        return reverse("admin:communities_community_change", args=[community.pk])

    def _crumbs(self, community) -> list[tuple[str, str]]:
        return [
            (
                reverse("admin:communities_community_changelist"),
                self.model._meta.verbose_name_plural.capitalize(),
            ),
            (self._change_url(community), str(community)),
        ]

    @method_decorator(sensitive_post_parameters())
    def rotate_secret_view(self, request, object_id):
        community = self._community(request, object_id, "communities.rotate_secret")
        scope = f"rotate:{community.pk}"
        if replayed := form_already_submitted(request):  # Back then submit, a reload: its secret page, once
            return HttpResponseRedirect(replayed)
        if prompt := password_prompt(request, request.path):
            return prompt
        ending = secret_in_grace(community=community)
        pending = pending_request(community)
        # A grace window only keeps a working secret working: none to give when no secret works (a
        # pending revocation request suspended them), nor while a request is pending at all.
        give_grace = pending is None and _valid_secrets(community) > 0
        refused_by = _secrets_refused_by(community)
        form = RotateSecretForm(
            form_data(request),
            ending=ending,
            grace=give_grace,
            tokens_help="" if give_grace and refused_by is None else revoke_tokens_help(community),
            secrets_refused_by=refused_by,
            tokens=token_split(community),
        )
        if request.method == "POST" and form.is_valid():
            key = form.cleaned_data["form_key"]
            try:
                with transaction.atomic():
                    submission = form_key_claim(key=key, user=request.user, scope=scope, page=request.path)
                    rotation = community_rotate_secret(
                        community=community,
                        actor=staff_actor(request),
                        grace=form.cleaned_grace(),
                        revoke_tokens=form.cleaned_data.get("revoke_tokens", False),  # not offered: none live
                        reason=form.cleaned_data["reason"],
                    )
                    form_done_note(submission, _rotation_summary(community, rotation, refused_by))
            except AlreadySubmitted:
                return HttpResponseRedirect(secret_page_url(key))
            self.log_change(
                request, community, _("Secret rotated: %(reason)s") % {"reason": form.cleaned_data["reason"]}
            )
            return secret_reveal_later(
                request,
                key,
                community=community,
                client_secret=rotation.client_secret,
                title=_("New client secret"),
                note=_rotation_note(rotation, refused_by, deactivation_said_apart=True),
            )
        return render_admin_page(
            request,
            self,
            "console/form_page.html",
            _("Rotate the secret of %(name)s") % {"name": community},
            form=form,
            button=_("Rotate and show the new secret"),
            original=community,
            crumbs=self._crumbs(community),
            cancel_url=self._change_url(community),
            warning=_rotate_warning(community, give_grace=give_grace),
            danger=ending is not None,
            danger_note=_ending_warning(ending, refused_by) if ending is not None else "",
            notes=[
                ("pending-request", pending_request_banner(pending) if pending is not None else ""),
                ("no-grace", "" if give_grace else _no_grace_note(pending)),
                ("community-inactive", rotate_inactive_warning(community)),
                ("policy-refuses-secrets", secrets_refused_warning(community)),
                ("dpop-required", rotate_dpop_line(community)),
            ],
        )

    def _reason_action(self, request, object_id, *, action: "ReasonAction"):
        community = self._community(request, object_id, action.permission)
        if not action.available(community):
            self.message_user(request, action.unavailable, messages.WARNING)
            return HttpResponseRedirect(self._change_url(community))
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            result = action.perform(community=community, actor=staff_actor(request), reason=reason)
            done = action.done(community, result)
            self.log_change(request, community, f"{done} {reason}")
            self.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(community))
        return render_admin_page(
            request,
            self,
            "console/confirm_with_reason.html",
            action.title,
            form=form,
            question=action.question(community),
            consequence=action.consequence(community) if callable(action.consequence) else action.consequence,
            listed=action.listed(community) if action.listed is not None else None,
            button=action.button,
            cancel_url=self._change_url(community),
            crumbs=self._crumbs(community),
        )


def _rotate_warning(community, *, give_grace: bool) -> str:
    """Above the rotate form. "Before the old one stops" only while the old one works: a deactivated
    community's secrets all get a 401, the old one as much as the new (its note says so, and until when:
    not said twice), and so do they all under a policy that refuses secrets (its note says so)."""
    if not community.is_active:
        return _("The new secret is shown once, on the next page.")
    if not _accepts_secrets(community):
        return _(
            "The new secret is shown once, on the next page. Neither it nor the old one works while the "
            "policy does not accept secrets."
        )
    if give_grace:
        return _(
            "The new secret is shown once, on the next page. The partner needs it before the old one stops."
        )
    return _("The new secret is shown once, on the next page: hand it over to the partner.")


def _ending_warning(secret: ClientSecret, refused_by: SecretsRefusedBy | None) -> str:
    """Which secret in its grace window a rotation now would end, and whether the partner still uses it.
    "Still works" only while the API takes secrets: else it is refused now, and ending it is for good."""
    last_use = ago(secret.last_used_at) if secret.last_used_at else _("never")
    if refused_by is not None:
        return _(
            "An older secret, starting with %(hint)s, is in its grace window until %(moment)s, but does not "
            "work now: %(why)s. Last used: %(last_use)s. Rotating now ends it for good: it will not work "
            "again even if %(until)s."
        ) % {
            "hint": secret.hint,
            "moment": console_time_zoned(secret.valid_until),
            "why": refused_by.why,
            "until": refused_by.until,
            "last_use": last_use,
        }
    return _(
        "An older secret, starting with %(hint)s, still works until %(moment)s (its grace window). "
        "Last used: %(last_use)s. Rotating now ends it at once: a partner still using it gets a 401 "
        "(access refused) on its next request."
    ) % {"hint": secret.hint, "moment": console_time_zoned(secret.valid_until), "last_use": last_use}


def _rotation_summary(community, rotation, refused_by: SecretsRefusedBy | None) -> str:
    newest = ClientSecret.objects.filter(community=community).order_by("-created_at").first()
    summary = _("The secret of %(name)s was rotated; the new one starts with %(hint)s.") % {
        "name": community,
        "hint": newest.hint if newest else "—",
    }
    return f"{summary} {_rotation_note(rotation, refused_by)}".strip()


def _rotation_note(
    rotation, refused_by: SecretsRefusedBy | None, *, deactivation_said_apart: bool = False
) -> str:
    """What the rotation did. ``refused_by``: why no secret works now (the old one in its grace window no
    more than the new one), so the grace window is not said as the old secret working.
    ``deactivation_said_apart``: the secret page says the community is deactivated just before this note,
    so the note does not say it a second time."""
    parts = []
    in_grace = (
        rotation.previous_secret_valid_until is not None
        and rotation.previous_secret_valid_until > timezone.now()
    )
    if in_grace and refused_by is SecretsRefusedBy.DEACTIVATION and deactivation_said_apart:
        parts.append(
            _("The old secret is in its grace window until %(moment)s, but it does not work now either.")
            % {"moment": console_time_zoned(rotation.previous_secret_valid_until)}
        )
    elif in_grace and refused_by is not None:
        parts.append(
            _("The old secret is in its grace window until %(moment)s, but does not work now: %(why)s.")
            % {"moment": console_time_zoned(rotation.previous_secret_valid_until), "why": refused_by.why}
        )
    elif in_grace:
        parts.append(
            _("The old secret keeps working until %(moment)s.")
            % {"moment": console_time_zoned(rotation.previous_secret_valid_until)}
        )
    if ended := _ended_secrets_line(rotation.ended_hints, older=in_grace):
        parts.append(ended)
    if rotation.tokens_revoked:
        parts.append(
            ngettext(
                "%(count)s live token revoked.", "%(count)s live tokens revoked.", rotation.tokens_revoked
            )
            % {"count": rotation.tokens_revoked}
        )
    return " ".join(parts)


def _ended_secrets_line(hints: tuple[str, ...], *, older: bool) -> str:
    """Which secrets the rotation ended at once, by their first characters, counted (never "the old
    secret" when two ended). ``older``: the previous secret keeps its grace window, these are older."""
    if not hints:
        return ""
    named = words_list([str(hint) for hint in hints])
    if older:
        return ngettext(
            "The older secret starting with %(hints)s has stopped working.",
            "The %(count)s older secrets starting with %(hints)s have stopped working.",
            len(hints),
        ) % {"count": len(hints), "hints": named}
    return ngettext(
        "The old secret starting with %(hints)s has stopped working.",
        "The %(count)s old secrets starting with %(hints)s have stopped working.",
        len(hints),
    ) % {"count": len(hints), "hints": named}


def _old_secrets_ended(ended: list) -> str:
    """The done message, naming each secret by hint: "1 old secret ended" leaves staff asking which."""
    return ngettext(
        "The old secret starting with %(hints)s was ended.",
        "%(count)s old secrets were ended: those starting with %(hints)s.",
        len(ended),
    ) % {"count": len(ended), "hints": words_list([quoted_hint(secret.hint) for secret in ended])}


def _stop_previous_question(community) -> str:
    """Names each secret "end the old secret now" stops (hint, until when, last use), as the rotate page
    does: the question is about a secret the partner may still be using."""
    now = timezone.now()
    previous = list(
        ClientSecret.objects.filter(community=community).exclude(valid_until__lte=now).order_by("-created_at")
    )[1:]
    question = ngettext(
        "End the old secret of %(name)s now, before its grace window ends?",
        "End the %(count)s old secrets of %(name)s now, before their grace windows end?",
        len(previous),
    ) % {"name": community, "count": len(previous)}
    # Why it is refused: the consequence below says it (stop_previous_secret_consequence).
    refused_by = _secrets_refused_by(community)
    works = (
        _("The secret starting with %(hint)s works until %(moment)s; last used: %(last_use)s.")
        if refused_by is None
        else _(
            "The secret starting with %(hint)s is in its grace window until %(moment)s, but is already "
            "refused; last used: %(last_use)s."
        )
    )
    named = [
        works
        % {
            "hint": secret.hint,
            "moment": console_time_zoned(secret.valid_until),
            "last_use": ago(secret.last_used_at) if secret.last_used_at else _("never"),
        }
        for secret in previous
        if secret.valid_until is not None  # an older secret always has its end (the rotation set it)
    ]
    return " ".join([question, *named])


def _live_tokens_listed(community) -> dict | None:
    """The tokens a confirmation revokes, newest first, as "revoke selected" lists them (jti · state ·
    expires at), the first ``TOKENS_LISTED`` only: "and N more" counts the rest."""
    live = (
        _live_tokens(community).select_related("community", "community__auth_policy").order_by("-issued_at")
    )
    shown = list(live[:TOKENS_LISTED])
    if not shown:  # deactivating a community with no live token: nothing to list
        return None
    more = live.count() - len(shown) if len(shown) == TOKENS_LISTED else 0
    return {
        "headings": [_("token ID (jti)"), _("state"), _("expires at")],
        "rows": [(token.jti, token_state(token), console_time(token.expires_at)) for token in shown],
        "more": ngettext("and %(count)s more token", "and %(count)s more tokens", more) % {"count": more}
        if more
        else "",
    }


def _count_live(community) -> int:
    return _live_tokens(community).count()


def _revoke_tokens_question(community) -> str:
    """N active tokens, and apart, M the API already refuses: never "3 active" for 1 working."""
    split = token_split(community)
    if not split.working:
        return ngettext(
            "Revoke the token of %(name)s that the API already refuses (%(reasons)s)?",
            "Revoke the %(count)s tokens of %(name)s that the API already refuses (%(reasons)s)?",
            split.refused,
        ) % {"count": split.refused, "name": community, "reasons": refused_reasons(split)}
    question = ngettext(
        "Revoke %(count)s live token of %(name)s?", "Revoke %(count)s live tokens of %(name)s?", split.working
    ) % {"count": split.working, "name": community}
    return " ".join([question, refused_revoked_too(split)]) if split.refused else question


def _deactivate_question(community) -> str:
    """With no live token, the question names none (never "revoke its 0 live tokens?"); tokens the API
    already refuses are counted apart, as "revoke all tokens" does."""
    split = token_split(community)
    if not split.working:
        question = _("Deactivate %(name)s? It has no live token.") % {"name": community}
        if not split.refused:
            return question
        return " ".join(
            [
                question,
                ngettext(
                    "Its token already refused by the API (%(reasons)s) is revoked too.",
                    "Its %(count)s tokens already refused by the API (%(reasons)s) are revoked too.",
                    split.refused,
                )
                % {"count": split.refused, "reasons": refused_reasons(split)},
            ]
        )
    question = ngettext(
        "Deactivate %(name)s and revoke its %(count)s live token?",
        "Deactivate %(name)s and revoke its %(count)s live tokens?",
        split.working,
    ) % {"count": split.working, "name": community}
    return " ".join([question, refused_revoked_too(split)]) if split.refused else question


def _revoke_tokens_consequence(community) -> str:
    """Whether, and with what, the partner can get new tokens once its tokens are revoked: the methods
    its policy allows that have a working credential now (the policy lock-out check), and its allowlist."""
    if not community.is_active:
        return _(
            "Their next request gets a 401; the community is inactive and gets no new tokens until someone reactivates it."
        )
    working = working_methods(community=community)
    if not working:
        closed = closed_ways(community=community)
        return _(
            "Their next request gets a 401, and the partner will NOT be able to get new tokens: %(causes)s. "
            "It stays so %(until)s."
        ) % {"causes": no_way_in_causes(closed), "until": no_way_in_until(closed)}
    if working == [METHOD_PRIVATE_KEY_JWT]:
        said = _("Their next request gets a 401; the partner may ask for new tokens with its key.")
    elif working == [METHOD_CLIENT_SECRET]:
        said = _("Their next request gets a 401; the partner may ask for new tokens with its secret.")
    else:
        said = _(
            "Their next request gets a 401; the partner may ask for new tokens with its secret or its key."
        )
    policy = client_auth_policy_get(community=community)
    if policy.allowed_ips:
        networks = ", ".join(policy.allowed_ips)
        said = " ".join([said, _("Only from the allowed source IPs: %(networks)s.") % {"networks": networks}])
    if policy.dpop == "required":
        said = " ".join([said, _("Each token request needs a DPoP proof too: the policy requires DPoP.")])
    return said


def _deactivated(community) -> str:
    """ "Comunidade Demo (demo) desativada: 1 token revogado.": the name stands alone (it often starts
    with "Comunidade"), and the count is the one the deactivation recorded in its audit row."""
    event = (
        AuditEvent.objects.filter(community=community, event_type=AuditEvent.EventType.COMMUNITY_DEACTIVATED)
        .order_by("-occurred_at", "-id")
        .first()
    )
    revoked = event.details.get("tokens_revoked", 0) if event is not None else 0
    if not revoked:
        return _("%(name)s deactivated: no token to revoke.") % {"name": community}
    return ngettext(
        "%(name)s deactivated: %(count)s token revoked.",
        "%(name)s deactivated: %(count)s tokens revoked.",
        revoked,
    ) % {"name": community, "count": revoked}


@dataclass(frozen=True)
class ReasonAction:
    """A community action that asks for a reason, then calls one service."""

    permission: str
    title: str
    question: Callable  # community -> the question, with counts
    consequence: Callable | str  # community -> the consequence, when it depends on the community
    button: str
    perform: Callable
    done: Callable
    available: Callable = lambda community: True
    unavailable: str = ""
    listed: Callable | None = None  # community -> the tokens the action revokes (``_live_tokens_listed``)


REASON_ACTIONS = {
    "stop-previous-secret": ReasonAction(
        "communities.rotate_secret",
        gettext_lazy("End the old secret now"),
        lambda community: _stop_previous_question(community),
        lambda community: stop_previous_secret_consequence(
            community, secrets_refused_by=_secrets_refused_by(community)
        ),
        gettext_lazy("End the old secret now"),
        secret_expire_previous,
        lambda community, ended: _old_secrets_ended(ended),
        available=lambda community: _previous_secrets(community) > 0,
        unavailable=gettext_lazy("This community has no old secret still working."),
    ),
    "revoke-tokens": ReasonAction(
        "communities.revoke_community_tokens",
        gettext_lazy("Revoke all tokens"),
        lambda community: _revoke_tokens_question(community),
        lambda community: _revoke_tokens_consequence(community),
        gettext_lazy("Revoke all tokens"),
        tokens_revoke_all,
        lambda community, count: (
            ngettext("%(count)s token revoked.", "%(count)s tokens revoked.", count) % {"count": count}
        ),
        available=lambda community: _count_live(community) > 0,
        unavailable=gettext_lazy("This community has no live token: there is nothing to revoke."),
        listed=_live_tokens_listed,
    ),
    "deactivate": ReasonAction(
        "communities.deactivate_community",
        gettext_lazy("Deactivate"),
        lambda community: _deactivate_question(community),
        lambda community: reactivated_by_line(),
        gettext_lazy("Deactivate"),
        community_deactivate,
        lambda community, _result: _deactivated(community),
        available=lambda community: community.is_active,
        unavailable=gettext_lazy("This community is already inactive."),
        listed=_live_tokens_listed,
    ),
    "reactivate": ReasonAction(
        "communities.deactivate_community",
        gettext_lazy("Reactivate"),
        lambda community: _("Reactivate %(name)s?") % {"name": community},
        lambda community: " ".join(
            [
                _("It may ask for new tokens again; revoked tokens stay revoked."),
                reactivation_credentials_line(community),
            ]
        ),
        gettext_lazy("Reactivate"),
        community_reactivate,
        # "Comunidade Antiga (oldco) está ativa de novo.": the name stands alone, as on deactivation.
        lambda community, _result: _("%(name)s is active again.") % {"name": community},
        available=lambda community: not community.is_active,
        unavailable=gettext_lazy("This community is already active."),
    ),
}


@admin.register(Member)
class MemberAdmin(NoEditingHelpWhenReadOnly, NoRelatedLinks, admin.ModelAdmin):
    form = MemberForm
    list_display = ("reference", "community", "bflus", "updated_at")
    list_filter = (("community", CommunityFilter),)
    search_fields = ("reference", "community__client_id", "community__name")
    list_select_related = ("community",)

    def get_readonly_fields(self, request, obj=None):
        return ("community", "reference", "updated_at") if obj else ("updated_at",)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return [field for field in fields if field != "reason"]  # nothing to give a reason for
        return fields

    def save_model(self, request, obj, form, change):
        # Through the service, so every balance change lands in the audit trail.
        member = member_set_bflus(
            community=obj.community,
            reference=obj.reference,
            bflus=obj.bflus,
            actor=staff_actor(request),
            reason=form.cleaned_data["reason"],
        )
        obj.pk = member.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False
