"""What the staff console's custom pages share: the acting staff member and the admin page frame.
Admin classes stay thin: they render these pages and call services."""

from django.contrib import admin
from django.template.response import TemplateResponse

from audit.services import Actor
from bfluence.source_ip import request_source_ip


def staff_actor(request) -> Actor:
    return Actor.staff(request.user, source_ip=request_source_ip(request))


def render_admin_page(
    request, model_admin, template: str, title: str, *, status: int = 200, **context
) -> TemplateResponse:
    site = model_admin.admin_site if model_admin else admin.site
    context = {
        **site.each_context(request),
        "opts": model_admin.model._meta if model_admin else None,
        "title": title,
        **context,
    }
    return TemplateResponse(request, template, context, status=status)
