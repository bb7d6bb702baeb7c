"""Small helpers that turn records into what a person reads."""

import math
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import avoid_wrapping
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

#: Time zones by the name staff know them (``CONSOLE_TIME_ZONE``); any other zone by its own name.
ZONE_NAMES = {"America/Sao_Paulo": gettext_lazy("Brasília time")}

#: The staff groups (tokens/migrations/0003_staff_groups.py) by the names staff read: every screen that
#: shows a group shows it through here, never its raw name.
ROLE_NAMES = {"security": gettext_lazy("security"), "support": gettext_lazy("support")}


def ago(moment) -> str:
    """ "há 3 horas"; under a minute, "agora há pouco" (never "há 0 minutos")."""
    now = timezone.now()
    if now - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(ago)s ago") % {"ago": timesince(moment, now, depth=1)}


def duration(seconds: float) -> str:
    """ "20 segundos", "1 minuto, 30 segundos", "1 hora", "1 dia, 2 horas": the one form every duration
    takes in the console (the rotation's grace choices and the audit details alike); zero reads "nenhuma".
    timesince counts no seconds (20 s would read "0 minuto"), so under an hour the seconds are said here,
    in its words and with its separator, as the second of its two units."""
    if seconds <= 0:
        return _("none")
    whole = math.ceil(seconds)  # never less than it is: "1 segundo" for half of one
    in_seconds = whole % 60
    said_seconds = avoid_wrapping(
        ngettext("%(count)s second", "%(count)s seconds", in_seconds) % {"count": in_seconds}
    )
    if whole < 60:
        return said_seconds
    moment = timezone.now()
    said = timesince(moment - timedelta(seconds=whole), moment, depth=2)
    if whole < 3600 and in_seconds:
        return _(", ").join([said, said_seconds])
    return said


def zone_label() -> str:
    """The zone the console shows times in (the middleware activates ``CONSOLE_TIME_ZONE``), as staff
    say it: "horário de Brasília"; a zone with no such name reads "fuso horário Europe/Lisbon"."""
    name = timezone.get_current_timezone_name()
    known = ZONE_NAMES.get(name)
    return str(known) if known else _("time zone %(name)s") % {"name": name}


def community_filter_url(changelist: str, community) -> str:
    """A changelist showing only this community's rows."""
    return f"{reverse(f'admin:{changelist}_changelist')}?community__id__exact={community.pk}"


def staff_name(username: str) -> str:
    """A staff member as colleagues know them: the full name if set, else the username."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    return (user.get_full_name() or user.get_username()) if user else username


def who(actor: str) -> str:
    """An actor as recorded ("staff:sup1", "partner:acme", "command:rotate_secret") in plain words."""
    kind, sep, name = actor.partition(":")
    if not sep:
        return actor if actor not in ("", "-") else "—"
    if kind == "staff":
        return staff_name(name)
    if kind == "partner":
        return _("the partner (%(client_id)s)") % {"client_id": name}
    if kind == "command":
        return _("the command %(name)s") % {"name": name}
    return name or actor


def by_whom(actor: str) -> str:
    """ "by …" for an actor as recorded, as one phrase: Portuguese contracts "por o parceiro" into "pelo
    parceiro" and "por o comando" into "pelo comando", so each kind of actor has its own msgid."""
    kind, sep, name = actor.partition(":")
    if sep and kind == "partner":
        return _("by the partner (%(client_id)s)") % {"client_id": name}
    if sep and kind == "command":
        return _("by the command %(name)s") % {"name": name}
    return _("by %(who)s") % {"who": who(actor)}


def role_name(group_name: str) -> str:
    """A staff group as a role in the reader's language ("segurança"); another group keeps its name."""
    return str(ROLE_NAMES.get(group_name, group_name))


def words_list(parts: list[str]) -> str:
    """ "a, b e c" in the reader's language."""
    if len(parts) <= 1:
        return "".join(parts)
    return _("%(first)s and %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}


def quoted_hint(hint: str) -> str:
    """A secret's start in quotes, “bfl_sk_AbCd…”: where a sentence goes on or ends after it, its "…"
    is never read as the sentence's end, nor followed by a bare full stop ("bfl_sk_AbCd….")."""
    return f"“{hint}”"


def words_either(parts: list[str]) -> str:
    """ "a, b ou c": alternatives, any one of which will do."""
    if len(parts) <= 1:
        return "".join(parts)
    return _("%(first)s or %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}


def factors_removed(removed) -> str:
    """What a second-factor reset took away (``console.second_factor.FactorsRemoved``), in words:
    "o aplicativo autenticador, 2 chaves de acesso e os códigos de recuperação"."""
    parts = []
    if removed.authenticator_app:
        parts.append(_("the authenticator app"))
    if removed.passkeys:
        parts.append(
            ngettext("%(count)s passkey", "%(count)s passkeys", removed.passkeys)
            % {"count": removed.passkeys}
        )
    if removed.recovery_codes:
        parts.append(_("the recovery codes"))
    return words_list(parts) or _("nothing (no factor was set up)")
