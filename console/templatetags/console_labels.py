"""The label of a model's add link on the console's home page: its ModelAdmin's ``add_label``, if any.

Named by app label and model name: a model class given to a template tag would be called (instantiated).
"""

from django import template
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered

register = template.Library()


@register.simple_tag
def add_label(app_label: str, object_name: str) -> str:
    try:
        model_admin = admin.site.get_model_admin(apps.get_model(app_label, object_name))
    except (LookupError, NotRegistered):
        return ""
    return getattr(model_admin, "add_label", "") or ""
