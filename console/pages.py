"""What the staff console's custom pages share: the acting staff member, the one-time secret page, and
the confirm-with-a-reason page. Admin classes stay thin: they render these and call services."""

from django import forms
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from audit.services import Actor
from tokens.request_info import client_ip


def staff_actor(request) -> Actor:
    return Actor.staff(request.user, source_ip=client_ip(request))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Recorded in the audit trail with your name."))


def render_admin_page(request, model_admin, template: str, title: str, **context) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **context,
    }
    return TemplateResponse(request, template, context)


def secret_once_response(request, model_admin, *, community, client_secret: str, title: str, note: str = ""):
    """The only page that ever shows a client secret. Never cached, never shown again."""
    response = render_admin_page(request, model_admin, "console/secret_once.html", title,
                                 community=community, client_secret=client_secret, note=note)
    add_never_cache_headers(response)
    return response
