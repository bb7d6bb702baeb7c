"""Staff console for communities and members. Every action calls the same services as the commands."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from communities.models import Community, Member
from communities.services import community_reactivate, community_update, member_set_bflus
from console.forms import CommunityChangeForm, OnboardCommunityForm, RotateSecretForm
from console.pages import ReasonForm, render_admin_page, secret_once_response, staff_actor
from tokens.models import ClientSecret, IssuedToken
from tokens.services import (
    community_create,
    community_deactivate,
    secret_expire_previous,
    secret_rotate,
    tokens_revoke_all,
)


def _secret_line(secret: ClientSecret, now) -> tuple:
    """hint · age · state · last use: enough for staff to see when an old secret is safe to stop."""
    if secret.valid_until is None:
        state = _("current")
    elif secret.valid_until > now:
        state = _("valid until %(moment)s") % {"moment": timezone.localtime(secret.valid_until)
                                                .strftime("%Y-%m-%d %H:%M")}
    else:
        state = _("stopped")
    last_use = _("%(ago)s ago") % {"ago": timesince(secret.last_used_at, now)} if secret.last_used_at else _("never")
    return secret.hint, timesince(secret.created_at, now), state, last_use


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    form = CommunityChangeForm
    change_form_template = "console/community_change_form.html"
    list_display = ("client_id", "name", "is_active", "permission_list", "live_tokens", "last_token_issued",
                    "secrets_summary")
    list_filter = ("is_active",)
    search_fields = ("client_id", "name")
    readonly_fields = ("client_id", "is_active", "secrets_overview", "tokens_revoked_before", "created_at",
                       "updated_at")
    fieldsets = (
        (None, {"fields": ("client_id", "name", "is_active", "permissions", "token_lifetime")}),
        (gettext_lazy("Credentials"), {"fields": ("secrets_overview", "tokens_revoked_before")}),
        (gettext_lazy("History"), {"fields": ("created_at", "updated_at")}),
    )

    # --- list --------------------------------------------------------------------------------------
    def get_queryset(self, request):
        live = IssuedToken.objects.filter(community=OuterRef("pk"), revoked_at__isnull=True,
                                          expires_at__gt=timezone.now())
        latest = IssuedToken.objects.filter(community=OuterRef("pk")).order_by("-issued_at")
        return super().get_queryset(request).annotate(
            live_token_count=Subquery(live.values("community").annotate(n=Count("pk")).values("n")[:1]),
            last_issued=Subquery(latest.values("issued_at")[:1]),
        ).prefetch_related("secrets")

    @admin.display(description=gettext_lazy("permissions"))
    def permission_list(self, community):
        return ", ".join(community.permissions) or "—"

    @admin.display(description=gettext_lazy("live tokens"), ordering="live_token_count")
    def live_tokens(self, community):
        return community.live_token_count or 0

    @admin.display(description=gettext_lazy("last token issued"), ordering="last_issued")
    def last_token_issued(self, community):
        return community.last_issued or "—"

    @admin.display(description=gettext_lazy("secrets (hint · age · state · last use)"))
    def secrets_summary(self, community):
        now = timezone.now()
        valid = [secret for secret in community.secrets.all() if secret.is_valid_at(now)]
        return format_html_join(mark_safe("<br>"), "{} · {} · {} · {}",
                                (_secret_line(secret, now) for secret in valid)) or "—"

    @admin.display(description=gettext_lazy("secrets"))
    def secrets_overview(self, community):
        now = timezone.now()
        rows = format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                (_secret_line(secret, now) for secret in community.secrets.all()[:10]))
        return format_html(
            '<table id="secrets"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>',
            _("hint"), _("age"), _("state"), _("last used"), rows,
        )

    # --- onboarding (the add page) -----------------------------------------------------------------
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OnboardCommunityForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                created = community_create(actor=staff_actor(request), **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return secret_once_response(request, self, community=created.community,
                                            client_secret=created.client_secret,
                                            title=_("Community created: its client secret"))
        return render_admin_page(request, self, "console/form_page.html", _("Onboard a community"),
                                 form=form, button=_("Create community and show its secret"))

    def save_model(self, request, obj, form, change):
        community_update(community=obj, actor=staff_actor(request), name=form.cleaned_data["name"],
                         permissions=form.cleaned_data["permissions"],
                         token_lifetime=form.cleaned_data["token_lifetime"])

    def has_delete_permission(self, request, obj=None):
        return False  # communities are deactivated, never deleted: their history must stay

    # --- actions on one community ------------------------------------------------------------------
    def get_urls(self):
        def view(function, name):
            return path(f"<int:object_id>/{name}/", self.admin_site.admin_view(function),
                        name=f"communities_community_{name.replace('-', '_')}")

        return [
            view(self.rotate_secret_view, "rotate-secret"),
            *(view(partial(self._reason_action, action=action), name) for name, action in REASON_ACTIONS.items()),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = request.user
        extra_context = {
            **(extra_context or {}),
            "can_rotate": user.has_perm("communities.rotate_secret"),
            "can_revoke": user.has_perm("communities.revoke_community_tokens"),
            "can_deactivate": user.has_perm("communities.deactivate_community"),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _community(self, request, object_id, permission: str) -> Community:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Community, pk=object_id)

    @staticmethod
    def _change_url(community) -> str:
        return reverse("admin:communities_community_change", args=[community.pk])

    @method_decorator(sensitive_post_parameters())
    def rotate_secret_view(self, request, object_id):
        community = self._community(request, object_id, "communities.rotate_secret")
        form = RotateSecretForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            rotation = secret_rotate(community=community, actor=staff_actor(request), grace=form.cleaned_grace(),
                                     revoke_tokens=form.cleaned_data["revoke_tokens"],
                                     reason=form.cleaned_data["reason"])
            note = _("%(count)s token(s) revoked.") % {"count": rotation.tokens_revoked}
            return secret_once_response(request, self, community=community, client_secret=rotation.client_secret,
                                        title=_("New client secret"), note=note)
        return render_admin_page(request, self, "console/form_page.html",
                                 _("Rotate the secret of %(name)s") % {"name": community},
                                 form=form, button=_("Rotate and show the new secret"), original=community)

    def _reason_action(self, request, object_id, *, action: "ReasonAction"):
        community = self._community(request, object_id, action.permission)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            result = action.perform(community=community, actor=staff_actor(request),
                                    reason=form.cleaned_data["reason"])
            self.message_user(request, action.done(community, result), messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(community))
        return render_admin_page(request, self, "console/confirm_with_reason.html", action.question,
                                 form=form, question=action.question, subject=str(community),
                                 button=action.button, cancel_url=self._change_url(community))


@dataclass(frozen=True)
class ReasonAction:
    """A community action that asks for a reason, then calls one service."""

    permission: str
    question: str
    button: str
    perform: Callable
    done: Callable


REASON_ACTIONS = {
    "stop-previous-secret": ReasonAction(
        "communities.rotate_secret",
        gettext_lazy("Stop the previous secret now, before its grace window ends?"),
        gettext_lazy("Stop the previous secret"),
        lambda community, actor, reason: secret_expire_previous(community=community, actor=actor),
        lambda community, stopped: _("%(count)s previous secret(s) stopped.") % {"count": stopped},
    ),
    "revoke-tokens": ReasonAction(
        "communities.revoke_community_tokens",
        gettext_lazy("Revoke every live token of this community? Its next request will get a 401."),
        gettext_lazy("Revoke all tokens"),
        tokens_revoke_all,
        lambda community, count: _("%(count)s token(s) revoked.") % {"count": count},
    ),
    "deactivate": ReasonAction(
        "communities.deactivate_community",
        gettext_lazy("Deactivate this community? It gets no tokens, and every token it holds is revoked."),
        gettext_lazy("Deactivate"),
        community_deactivate,
        lambda community, _result: _("%(name)s is inactive.") % {"name": community},
    ),
    "reactivate": ReasonAction(
        "communities.deactivate_community",
        gettext_lazy("Reactivate this community? It may ask for new tokens again."),
        gettext_lazy("Reactivate"),
        community_reactivate,
        lambda community, _result: _("%(name)s is active again.") % {"name": community},
    ),
}


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("reference", "community", "bflus", "updated_at")
    list_filter = ("community",)
    search_fields = ("reference", "community__client_id", "community__name")
    list_select_related = ("community",)

    def get_readonly_fields(self, request, obj=None):
        return ("community", "reference", "updated_at") if obj else ("updated_at",)

    def save_model(self, request, obj, form, change):
        # Through the service, so every balance change lands in the audit trail.
        member = member_set_bflus(community=obj.community, reference=obj.reference, bflus=obj.bflus,
                                  actor=staff_actor(request))
        obj.pk = member.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False

