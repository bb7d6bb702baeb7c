"""Small helpers that turn records into what a person reads."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _


def ago(moment) -> str:
    """ "há 3 horas"; under a minute, "agora há pouco" (never "há 0 minutos")."""
    now = timezone.now()
    if now - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(ago)s ago") % {"ago": timesince(moment, now, depth=1)}


def community_filter_url(changelist: str, community) -> str:
    """A changelist showing only this community's rows."""
    return f"{reverse(f'admin:{changelist}_changelist')}?community__id__exact={community.pk}"
