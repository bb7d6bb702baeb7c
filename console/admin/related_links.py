"""The links Django's admin puts beside a related field: add another, change, view or delete the one picked.

A form that picks a community (a revocation request, a member, security contacts) offers none: staff
pick an existing community there, and creating or editing one is the community page's job, with its
own checks, not a pop-up on the way.

Where links remain (a user's groups), their titles come from our catalogue: Django's pt_BR ones agree
with a masculine model only ("Alterar comunidade selecionado", "Adicionar outro comunidade"); ours name
the model in parentheses, which reads right for any. makemessages runs with --no-obsolete and keeps
only the msgids found in our own code, hence the ``gettext_noop`` calls below, which keep Django's
msgids (from ``admin/widgets/related_widget_wrapper.html``) in our catalogue.
"""

from django.contrib import admin
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.utils.translation import gettext_noop

DJANGO_TITLES_OVERRIDDEN = (
    gettext_noop("Change selected %(model)s"),
    gettext_noop("Add another %(model)s"),
    gettext_noop("Delete selected %(model)s"),
    gettext_noop("View selected %(model)s"),
)


class NoRelatedLinks(admin.ModelAdmin):
    """Listed first among a ModelAdmin's bases: its related fields are picked, never edited."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget.can_add_related = widget.can_change_related = False
            widget.can_view_related = widget.can_delete_related = False
        return formfield
