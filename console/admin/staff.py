"""Staff accounts for the security group: who has a second factor, who is locked out, and the two actions
one takes for a colleague — reset the second factor, lift a sign-in lock — never for oneself. Also the
audit rows for password changes made through the admin."""

from functools import partial

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from audit.models import AuditEvent
from audit.services import audit_record
from console.forms import ReasonForm
from console.humane import factors_removed, role_name
from console.models import StaffAccount
from console.pages import render_admin_page, staff_actor
from console.second_factor import SamePerson, second_factor_reset, staff_action_refused
from console.signin import staff_lock_lift
from console.sudo import form_data, password_prompt
from console.who_can_act import yourself_refused_line

MANAGE = "console.manage_staff_access"


def _locked_addresses(user) -> int:
    """Addresses from which this account is locked right now (axes' attempts past the limit)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        username=user.get_username(),
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        attempt_time__gte=since,
    ).count()


@admin.register(StaffAccount)
class StaffAccountAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "full_name",
        "roles",
        "second_factor",
        "recovery_codes",
        "lock",
    )
    search_fields = ("username", "first_name", "last_name")
    ordering = ("username",)
    fields = ("username", "first_name", "last_name", "last_login")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_staff=True).prefetch_related("groups")

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The page is read-only: the user model's editing help ("Required. 150 characters or fewer…")
        # would tell the reader how to fill in a field they cannot edit.
        return super().get_form(request, obj, change, help_texts=dict.fromkeys(self.fields, ""), **kwargs)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("name"))
    def full_name(self, user):
        return user.get_full_name() or "—"

    @admin.display(description=gettext_lazy("roles"))
    def roles(self, user):
        shown = [role_name(group.name) for group in user.groups.all()]
        if user.is_superuser:
            shown.append(_("superuser"))
        return ", ".join(shown) or "—"

    @admin.display(description=gettext_lazy("second factor"))
    def second_factor(self, user):
        methods = []
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            methods.append(_("authenticator app"))
        passkeys = WebAuthnCredential.objects.filter(user=user, confirmed=True).count()
        if passkeys:
            methods.append(
                ngettext("%(count)s passkey", "%(count)s passkeys", passkeys) % {"count": passkeys}
            )
        return ", ".join(methods) or _("not set up yet")

    @admin.display(description=gettext_lazy("recovery codes left"))
    def recovery_codes(self, user):
        return StaticToken.objects.filter(device__user=user).count()

    @admin.display(description=gettext_lazy("sign-in"))
    def lock(self, user):
        locked = _locked_addresses(user)
        if not locked:
            return _("not blocked")
        return ngettext("blocked from %(count)s address", "blocked from %(count)s addresses", locked) % {
            "count": locked
        }

    def get_list_display(self, request):
        """The actions column knows who is looking: no button on one's own row (nobody acts for
        themselves), and none where there is nothing to reset or lift."""

        @admin.display(description=gettext_lazy("actions"))
        def actions_links(user):
            return self._actions_links(user, viewer=request.user)

        return [*super().get_list_display(request), actions_links]

    @staticmethod
    def _actions_links(user, *, viewer) -> str:
        if user.pk == viewer.pk:
            return "—"
        links = []
        if any(model.objects.filter(user=user).exists() for model in (TOTPDevice, WebAuthnCredential)) or (
            StaticToken.objects.filter(device__user=user).exists()
        ):
            url = reverse("admin:console_staffaccount_reset_second_factor", args=[user.pk])
            links.append((url, _("Reset second factor")))
        if _locked_addresses(user):
            links.append(
                (reverse("admin:console_staffaccount_lift_lock", args=[user.pk]), _("Lift sign-in block"))
            )
        if not links:
            return "—"
        return format_html(
            '<span class="staff-actions">{}</span>',
            format_html_join("", '<a class="button" href="{}">{}</a>', links),
        )

    def get_urls(self):
        def view(function, name):
            return path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(function),
                name=f"console_staffaccount_{name.replace('-', '_')}",
            )

        return [
            view(partial(self._act, action=RESET), "reset-second-factor"),
            view(partial(self._act, action=LIFT), "lift-lock"),
        ] + super().get_urls()

    def _act(self, request, object_id, *, action: dict):
        if not request.user.has_perm(MANAGE):
            raise PermissionDenied
        user = get_object_or_404(get_user_model(), pk=object_id, is_staff=True)
        back = reverse("admin:console_staffaccount_changelist")
        if user.pk == request.user.pk:
            staff_action_refused(
                actor=staff_actor(request),
                action=action["code"],
                subject=user.get_username(),
                why="same_person",
            )
            self.message_user(request, yourself_refused_line(request.user), messages.ERROR)
            return HttpResponseRedirect(back)
        # Another person's access: sudo mode first.
        if prompt := password_prompt(request, request.path, action["purpose"]):
            return prompt
        form = ReasonForm(form_data(request))
        if request.method == "POST" and form.is_valid():
            try:
                done = action["perform"](user=user, request=request, reason=form.cleaned_data["reason"])
            except SamePerson:  # pragma: no cover - checked above; the service checks again
                raise PermissionDenied from None
            self.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(back)
        return render_admin_page(
            request,
            self,
            "console/confirm_with_reason.html",
            action["title"],
            form=form,
            question=action["question"] % {"name": user.get_full_name() or user.get_username()},
            consequence=action["consequence"],
            button=action["title"],
            cancel_url=back,
            crumbs=[(back, capfirst(self.model._meta.verbose_name_plural))],
        )


def _reset(*, user, request, reason) -> str:
    removed = second_factor_reset(
        username=user.get_username(), actor=staff_actor(request), reason=reason, by_user=request.user
    )
    return _(
        "Second factor of %(name)s reset. What was removed: %(what)s. They set up a new one before acting "
        "again (a session still open goes to the set-up page at its next click)."
    ) % {"name": user.get_full_name() or user.get_username(), "what": factors_removed(removed)}


def _lift(*, user, request, reason) -> str:
    staff_lock_lift(username=user.get_username(), actor=staff_actor(request), reason=reason)
    return _("Sign-in block lifted for %(name)s.") % {"name": user.get_full_name() or user.get_username()}


RESET = {
    "code": "second_factor_reset",
    "purpose": "reset-second-factor",
    "title": gettext_lazy("Reset second factor"),
    "question": gettext_lazy("Reset the second factor of %(name)s?"),
    "consequence": gettext_lazy(
        "Their authenticator app, passkeys and recovery codes stop working now. They set up a new one before "
        "acting again (a session still open goes to the set-up page at its next click). Do this only after "
        "confirming who is asking (a call, in person)."
    ),
    "perform": _reset,
}
LIFT = {
    "code": "staff_lock_lift",
    "purpose": "lift-lock",
    "title": gettext_lazy("Lift sign-in block"),
    "question": gettext_lazy("Lift the sign-in block of %(name)s?"),
    "consequence": gettext_lazy(
        "They may try their password again at once, from every address. If you did not speak with them, "
        "someone else may be guessing: check the audit trail first."
    ),
    "perform": _lift,
}


# --- password changes in the trail -----------------------------------------------------------------


class RoleFilter(admin.RelatedFieldListFilter):
    """The user list's group filter, each group by its role's name."""

    def field_choices(self, field, request, model_admin):
        return [(pk, role_name(name)) for pk, name in super().field_choices(field, request, model_admin)]


class AuditedUserAdmin(UserAdmin):
    """Django's user screens, with a superuser's reset of someone's password in the audit trail, and the
    groups shown by their roles' names."""

    list_filter = tuple(
        ("groups", RoleFilter) if name == "groups" else name for name in UserAdmin.list_filter
    )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "groups":
            field.label_from_instance = lambda group: role_name(group.name)
        return field

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = get_object_or_404(get_user_model(), pk=id)
            event = (
                AuditEvent.EventType.STAFF_PASSWORD_CHANGED
                if user.pk == request.user.pk
                else AuditEvent.EventType.STAFF_PASSWORD_RESET
            )
            audit_record(
                event_type=event, actor=staff_actor(request), details={"subject": user.get_username()}
            )
        return response


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), AuditedUserAdmin)


class RoleGroupAdmin(GroupAdmin):
    """Django's group screens, each group listed by its role's name (the raw name stays the field)."""

    list_display = ("role",)

    @admin.display(description=gettext_lazy("role"), ordering="name")
    def role(self, group):
        return role_name(group.name)


admin.site.unregister(Group)
admin.site.register(Group, RoleGroupAdmin)


@sensitive_post_parameters()
def password_change(request):
    """The admin's own "change my password", with its audit row."""
    response = admin.site.password_change(request)
    if request.method == "POST" and response.status_code == 302:
        audit_record(
            event_type=AuditEvent.EventType.STAFF_PASSWORD_CHANGED,
            actor=staff_actor(request),
            details={"subject": request.user.get_username()},
        )
    return response
