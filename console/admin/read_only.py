"""A page the reader may only view shows no editing help: "Shorter than the default, like 1h" tells
them how to fill in a field they cannot edit."""

from django.contrib import admin


class NoEditingHelpWhenReadOnly(admin.ModelAdmin):
    def get_form(self, request, obj=None, change=False, **kwargs):
        # Read-only fields take their help from the form's Meta.help_texts before the model's fields:
        # blank ones hide the model's. The add page (obj None) is never read-only for who may open it.
        if obj is not None and not self.has_change_permission(request, obj):
            blank = dict.fromkeys((field.name for field in self.model._meta.get_fields()), "")
            kwargs["help_texts"] = {**blank, **kwargs.get("help_texts", {})}
        return super().get_form(request, obj, change, **kwargs)
