"""Staff screens for partner security notifications (SPEC §2.10): each community's security contacts,
and every notification with its delivery state, which staff can send again. Both call services only."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from console.admin.credentials import ReadOnlyAdmin
from console.admin.filters import CommunityFilter, Labelled, StatusFilter
from console.admin.read_only import NoEditingHelpWhenReadOnly
from console.admin.related_links import NoRelatedLinks
from console.forms import ReasonForm, console_time
from console.humane import ago
from console.once import form_key_new, secret_reveal_later
from console.pages import render_admin_page, staff_actor
from notifications.events import EVENT_TYPES, NAMES
from notifications.models import Notification, SecurityContacts
from notifications.services import email_lines_parse, notification_resend, security_contacts_set
from notifications.webhooks import webhook_target


class EventTypeFilter(Labelled, admin.SimpleListFilter):
    """ "Evento: Todos · comunidade desativada · segredo trocado …": every event partners are told about,
    by name. ``event_type`` has no choices of its own (the events live in ``notifications.events``), so
    Django's default filter could only list the raw codes."""

    title = gettext_lazy("event")
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(event_type, NAMES[event_type]) for event_type in EVENT_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


_STATE_CLASS = {"pending": "state-pending", "delivered": "state-ok", "failed": "state-failed"}


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("event", "client_id", "to", "state", "when", "error", "resend_button")
    list_filter = (("status", StatusFilter), EventTypeFilter, "channel", ("community", CommunityFilter))
    search_fields = ("community__client_id", "recipient", "event_id")
    list_select_related = ("community",)
    actions = ["resend_selected"]
    fields = (
        "event_id",
        "community",
        "event_type",
        "data",
        "channel",
        "recipient",
        "language",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    )

    @admin.display(description=gettext_lazy("event"), ordering="event_type")
    def event(self, notification):
        # The code too, on hover: it is what the webhook and the e-mail's partner-side logs carry.
        return format_html(
            '<span title="{}">{}</span>',
            notification.event_type,
            NAMES.get(notification.event_type, notification.event_type),
        )

    @admin.display(description=gettext_lazy("community"), ordering="community__client_id")
    def client_id(self, notification):
        return notification.community.client_id

    @admin.display(description=gettext_lazy("recipient"), ordering="recipient")
    def to(self, notification):
        return format_html(
            '<span title="{}">{} · {}</span>',
            notification.recipient,
            notification.get_channel_display(),
            Truncator(notification.recipient).chars(36),
        )

    @admin.display(description=gettext_lazy("last error"))
    def error(self, notification):
        return Truncator(notification.last_error).chars(40)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def state(self, notification):
        return format_html(
            '<span class="{}">{}</span>',
            _STATE_CLASS.get(notification.status, ""),
            notification.get_status_display(),
        )

    @admin.display(description=gettext_lazy("when"), ordering="created_at")
    def when(self, notification):
        if notification.status == Notification.Status.DELIVERED and notification.delivered_at:
            return _("delivered %(ago)s") % {"ago": ago(notification.delivered_at)}
        if notification.status == Notification.Status.PENDING:
            return _("next attempt %(at)s") % {"at": console_time(notification.next_attempt_at)}
        return ago(notification.created_at)

    def has_resend_permission(self, request):
        return request.user.has_perm("notifications.resend_notification")

    @admin.display(description="")
    def resend_button(self, notification):
        if notification.status == Notification.Status.WITHDRAWN:
            return ""
        return format_html(
            '<a class="button resend-one" href="{}">{}</a>',
            reverse("admin:notifications_notification_resend", args=[notification.pk]),
            _("Resend"),
        )

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if self.has_resend_permission(request) else [f for f in shown if f != "resend_button"]

    def get_urls(self):
        resend = path(
            "<int:object_id>/resend/",
            self.admin_site.admin_view(self.resend_view),
            name="notifications_notification_resend",
        )
        return [resend] + super().get_urls()

    def resend_view(self, request, object_id):
        """GET asks (with a reason, for the audit trail); only the confirming POST sends again."""
        if not self.has_resend_permission(request):
            raise PermissionDenied
        notification = get_object_or_404(Notification.objects.select_related("community"), pk=object_id)
        changelist = reverse("admin:notifications_notification_changelist")
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            notification_resend(
                notification=notification, actor=staff_actor(request), reason=form.cleaned_data["reason"]
            )
            self.message_user(request, _("The notification will be sent again shortly."), messages.SUCCESS)
            return HttpResponseRedirect(changelist)
        return render_admin_page(
            request,
            self,
            "console/confirm_with_reason.html",
            _("Send a notification again"),
            form=form,
            question=_("Send %(event)s to %(recipient)s again?")
            % {"event": notification.event_type, "recipient": notification.recipient},
            consequence=_("It keeps its event id, so a receiver that already has it can tell."),
            hidden_fields=[],
            button=_("Resend"),
            cancel_url=changelist,
            crumbs=[(changelist, self.model._meta.verbose_name_plural.capitalize())],
        )

    @admin.action(description=gettext_lazy("Resend selected notifications"), permissions=["resend"])
    def resend_selected(self, request, queryset):
        sent = 0
        for notification in queryset.select_related("community"):
            notification_resend(
                notification=notification, actor=staff_actor(request), reason=_("bulk resend")
            )
            sent += 1
        self.message_user(
            request,
            ngettext(
                "%(count)s notification will be sent again.",
                "%(count)s notifications will be sent again.",
                sent,
            )
            % {"count": sent},
            messages.SUCCESS,
        )


class SecurityContactsForm(forms.ModelForm):
    webhook_url = forms.URLField(
        label=gettext_lazy("webhook URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        # Django's own pt-BR catalogue says "um URL válido"; the console writes "uma URL" everywhere.
        error_messages={"invalid": gettext_lazy("Enter a valid webhook URL.")},
    )
    email_lines = forms.CharField(
        label=capfirst(
            gettext_lazy("e-mail addresses")
        ),  # as the model fields' labels: "Endereços de e-mail"
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "One per line, optionally with its language: sec@acme.example:en (default pt-br)."
        ),
    )
    new_webhook_secret = forms.BooleanField(
        label=gettext_lazy("Make a new webhook signing secret"), required=False
    )

    class Meta:
        model = SecurityContacts
        fields = ("community", "webhook_url")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["email_lines"].initial = "\n".join(
                f"{entry['address']}:{entry['language']}" for entry in self.instance.emails
            )

    def clean_email_lines(self) -> str:
        """Every wrong line named at once, and the form shown again as typed (not saved, not emptied)."""
        self.email_pairs = email_lines_parse(self.cleaned_data["email_lines"])
        return self.cleaned_data["email_lines"]

    def clean_webhook_url(self) -> str:
        """The service checks a new URL again when it saves; checked here too so that a refused one
        brings the form back as typed, its reason beside the field."""
        url = self.cleaned_data["webhook_url"]
        if url and url != self.instance.webhook_url:
            webhook_target(url)
        return url

    def emails(self) -> list[tuple[str, str]]:
        return self.email_pairs


@admin.register(SecurityContacts)
class SecurityContactsAdmin(NoEditingHelpWhenReadOnly, NoRelatedLinks, admin.ModelAdmin):
    form = SecurityContactsForm
    list_display = ("community", "addresses", "webhook_url", "webhook_secret_hint", "updated_at")
    search_fields = ("community__client_id",)
    list_select_related = ("community",)

    @admin.display(description=gettext_lazy("e-mail addresses"))
    def addresses(self, contacts):
        return ", ".join(f"{entry['address']} ({entry['language']})" for entry in contacts.emails)

    def get_fields(self, request, obj=None):
        # A page staff may only read shows what is saved: the form's own fields (the lines to edit, the
        # new-secret box) have no saved value and, read-only, only Django's English names for themselves.
        if obj is not None and not self.has_change_permission(request, obj):
            return ("community", "addresses", "webhook_url", "webhook_secret_hint")
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ("community", "webhook_secret_hint") if obj else ("webhook_secret_hint",)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Through the service, which checks the webhook URL and makes its signing secret."""
        try:
            result = security_contacts_set(
                community=obj.community,
                actor=staff_actor(request),
                emails=form.emails(),
                webhook_url=form.cleaned_data.get("webhook_url", ""),
                new_webhook_secret=form.cleaned_data.get("new_webhook_secret", False),
            )
        except ValidationError as error:
            raise _FormError(error) from error
        obj.pk = result.contacts.pk
        if result.webhook_secret:  # on the request: one admin instance serves every thread
            request.new_webhook_secret = (result.contacts.community, result.webhook_secret)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        editable = self.has_change_permission(request) if object_id else self.has_add_permission(request)
        if editable:  # a page staff may only read has the admin's "Fechar" instead
            # Back to the list as staff had filtered it, like the console's other forms.
            changelist = add_preserved_filters(
                {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts},
                reverse("admin:notifications_securitycontacts_changelist"),
            )
            extra_context = {**(extra_context or {}), "cancel_url": changelist}
        try:
            response = super().changeform_view(request, object_id, form_url, extra_context)
        except _FormError as error:
            # Only when the service refuses what the form accepted (a webhook host that resolved
            # differently a moment later): the form's own checks keep what was typed.
            self.message_user(request, " ".join(error.error.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        revealed = getattr(request, "new_webhook_secret", None)
        if revealed:
            community, secret = revealed
            return secret_reveal_later(
                request,
                form_key_new(),
                community=community,
                client_secret=secret,
                title=_("Webhook signing secret"),
                note=_("Give it to the partner's webhook receiver; it is shown only now."),
                authenticates_partner=False,
            )
        return response


class _FormError(Exception):
    def __init__(self, error: ValidationError) -> None:
        super().__init__(str(error))
        self.error = error
