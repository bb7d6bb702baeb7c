"""Staff console for tokens, revocation requests and the audit trail. Records here are read-only:
staff act on them only through services (revoke, handle), which write the audit trail."""

from itertools import groupby

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from audit.models import AuditEvent
from console.pages import ReasonForm, render_admin_page, secret_once_response, staff_actor
from tokens.models import IssuedToken, RevocationRequest
from tokens.services import revocation_request_handle, revocation_request_open, tokens_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TokenStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("active")), ("expired", _("expired")), ("revoked", _("revoked"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(IssuedToken)
class IssuedTokenAdmin(ReadOnlyAdmin):
    list_display = ("jti", "community", "state", "scope", "issued_at", "expires_at", "revoked_at", "revoked_by",
                    "source_ip")
    list_filter = (TokenStateFilter, "community")
    search_fields = ("=jti", "=community__client_id")
    list_select_related = ("community",)
    date_hierarchy = "issued_at"
    actions = ("revoke_selected",)

    @admin.display(description=gettext_lazy("state"))
    def state(self, token):
        if token.revoked_at:
            return _("revoked")
        return _("active") if token.expires_at > timezone.now() else _("expired")

    def has_revoke_permission(self, request):
        return request.user.has_perm("tokens.revoke_issuedtoken")

    @admin.action(description=gettext_lazy("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            revoked = 0
            tokens = queryset.select_related("community").order_by("community_id")
            for community, group in groupby(tokens, key=lambda token: token.community):
                revoked += tokens_revoke(community=community, jtis=[token.jti for token in group],
                                         actor=staff_actor(request), reason=form.cleaned_data["reason"])
            self.message_user(request, _("%(count)s token(s) revoked.") % {"count": revoked}, messages.SUCCESS)
            return None
        hidden = [("action", "revoke_selected")] + [(ACTION_CHECKBOX_NAME, token.pk) for token in queryset]
        return render_admin_page(
            request, self, "console/confirm_with_reason.html", _("Revoke tokens"), form=form,
            question=_("Revoke these %(count)s token(s)? Their next request will get a 401.")
            % {"count": queryset.count()},
            hidden_fields=hidden, button=_("Revoke"), cancel_url=reverse("admin:tokens_issuedtoken_changelist"),
        )


class RevocationRequestForm(forms.ModelForm):
    class Meta:
        model = RevocationRequest
        fields = ["community", "reason"]


class HandleRequestForm(forms.Form):
    """Nothing to choose: the reported secrets were suspended when the request was opened, and completing
    it offers no grace window for them (SPEC §2.7)."""


@admin.register(RevocationRequest)
class RevocationRequestAdmin(admin.ModelAdmin):
    form = RevocationRequestForm
    change_form_template = "console/revocationrequest_change_form.html"
    list_display = ("id", "community", "status", "created_at", "opened_by", "tokens_revoked", "secrets_suspended",
                    "handled_by", "handled_at")
    list_filter = ("status", "community")
    ordering = ("-status", "-created_at")  # "pending" sorts after "done": pending first
    list_select_related = ("community", "handled_by")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("community", "reason", "status", "opened_by", "source_ip", "tokens_revoked", "secrets_suspended",
                "created_at", "handled_by", "handled_at")

    def get_fields(self, request, obj=None):
        return ("community", "reason") if obj is None else self.get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        # A request that reached staff by phone or e-mail: same service, same immediate revocation.
        created = revocation_request_open(community=obj.community, reason=obj.reason, actor=staff_actor(request))
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        handle = path("<int:object_id>/handle/", self.admin_site.admin_view(self.handle_view),
                      name="tokens_revocationrequest_handle")
        return [handle] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}),
                         "can_handle": request.user.has_perm("tokens.handle_revocationrequest")}
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(sensitive_post_parameters())
    def handle_view(self, request, object_id):
        if not request.user.has_perm("tokens.handle_revocationrequest"):
            raise PermissionDenied
        revocation = get_object_or_404(RevocationRequest.objects.select_related("community"), pk=object_id)
        form = HandleRequestForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                rotation = revocation_request_handle(revocation=revocation, staff_user=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:tokens_revocationrequest_changelist"))
            return secret_once_response(request, self, community=revocation.community,
                                        client_secret=rotation.client_secret,
                                        title=_("Request #%(id)s handled: the new client secret")
                                        % {"id": revocation.pk})
        return render_admin_page(
            request, self, "console/form_page.html",
            _("Handle request #%(id)s of %(community)s") % {"id": revocation.pk, "community": revocation.community},
            form=form, button=_("Rotate the secret, close the request and show the new secret"),
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "event_type", "actor_type", "actor", "client_id", "jti", "source_ip", "details")
    list_filter = ("event_type", "actor_type", "community", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("actor", "=client_id", "=jti")
    date_hierarchy = "occurred_at"
    list_select_related = ("community",)
