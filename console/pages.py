"""What the staff console's custom pages share: the acting staff member and the admin page frame.
Admin classes stay thin: they render these pages and call services."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

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


def safe_next(request) -> str:
    """Where to go after a prompt: the ``next`` given, if it stays on this site; else the console's home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")
