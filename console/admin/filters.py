"""The lists' filters as staff read them: a label for a title ("Situação", "Data"; the filter box drops
Django's "Por …", see templates/admin/filter.html), and "Todas" where that label is feminine."""

from django.contrib import admin
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy

from audit.selectors import community_events_q

#: Django's "All" reads "Todos" whatever the filter; a feminine one (comunidade, situação) needs "Todas".
ALL_FEMININE = pgettext_lazy("feminine", "All")


class Labelled(admin.ListFilter):
    """A list filter titled ``label``, whose first choice (Django's "All") reads ``all_label``. Put it
    before the filter class it refines: ``class CommunityFilter(Labelled, admin.RelatedFieldListFilter)``."""

    label: str | Promise | None = None
    all_label: str | Promise | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.label is not None:
            self.title = self.label

    def choices(self, changelist):
        for index, choice in enumerate(super().choices(changelist)):
            if index == 0 and self.all_label is not None:
                choice = {**choice, "display": self.all_label}
            yield choice


class CommunityFilter(Labelled, admin.RelatedFieldListFilter):
    label = gettext_lazy("community")
    all_label = ALL_FEMININE


class StatusFilter(Labelled, admin.ChoicesFieldListFilter):
    label = gettext_lazy("status")
    all_label = ALL_FEMININE


class DateFilter(Labelled, admin.DateFieldListFilter):
    """ "Data" rather than the field's name ("ocorreu em"); its choices already say "Qualquer data"."""

    label = gettext_lazy("date")


class CommunityActiveFilter(admin.BooleanFieldListFilter):
    """A community's ``is_active`` as "Situação: Todas · ativas · inativas", not "Por ativa: Todos · Sim · Não"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = gettext_lazy("status")

    def choices(self, changelist):
        names = (
            ALL_FEMININE,
            pgettext_lazy("communities", "active"),
            pgettext_lazy("communities", "inactive"),
        )
        for choice, name in zip(super().choices(changelist), names, strict=False):
            yield {**choice, "display": name}


class CommunityAuditFilter(CommunityFilter):
    """The audit trail of one community: its rows and the refusals that name only its client_id
    (``audit.selectors.community_events_q``), so the trail holds every refusal its page counts."""

    def queryset(self, request, queryset):
        chosen = self.used_parameters.get(self.lookup_kwarg)
        if isinstance(chosen, list):
            chosen = chosen[-1] if chosen else None
        community = None
        if chosen is not None and str(chosen).isdigit():
            community = self.field.related_model._default_manager.filter(pk=chosen).first()
        if community is None:
            return super().queryset(request, queryset)
        return queryset.filter(community_events_q(community))
