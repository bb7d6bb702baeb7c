"""What pt-BR staff read: plurals that treat 0 as plural, people by their names, Django's own phrases
overridden where they read badly."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from audit.models import AuditEvent
from audit.services import Actor, audit_record

pytestmark = pytest.mark.django_db


def test_zero_reads_as_plural_in_the_console_counts():
    with translation.override("pt-br"):
        assert ngettext("%(count)s token", "%(count)s tokens", 0) % {"count": 0} == "0 tokens"
        assert (
            ngettext("%(count)s revocation request", "%(count)s revocation requests", 0) % {"count": 0}
            == "0 pedidos de revogação"
        )
        assert str(AuditEvent._meta.verbose_name_plural) == "eventos da trilha de auditoria"
        # Django admin's own, whose pt_BR catalogue treats 0 as singular: overridden in ours.
        assert ngettext("%(counter)s result", "%(counter)s results", 0) % {"counter": 0} == "0 resultados"


def test_the_admin_selection_counter_says_zero_selected_in_the_plural(admin_client):
    script = admin_client.get(reverse("admin:jsi18n"), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "const v = (n != 1)" in script or "(n != 1)" in script
    assert '"%(sel)s de %(cnt)s selecionados"' in script


def test_django_phrases_are_overridden():
    with translation.override("pt-br"):
        logged_out = gettext("Thanks for spending some quality time with the web site today.")
        wrong = gettext(
            "Please enter the correct %(username)s and password for a staff account. Note that both "
            "fields may be case-sensitive."
        )
        rotated = gettext("The secret of %(name)s was rotated; the new one starts with %(hint)s.")
    assert logged_out == "Sessão encerrada."
    assert "os dois campos" in wrong
    assert not (rotated % {"name": "acme", "hint": "bfl_sk_P3vr…"}).endswith("….")


def test_singular_revoke_question_does_not_speak_of_them():
    with translation.override("pt-br"):
        question = ngettext(
            "Deactivate %(name)s and revoke its %(count)s live token?",
            "Deactivate %(name)s and revoke its %(count)s live tokens?",
            1,
        ) % {"name": "acme", "count": 1}
        after = gettext("Their next request gets a 401. Tokens already revoked or expired stay as they are.")
    assert "o seu 1" not in question
    assert "com eles" not in after


def test_the_audit_event_page_names_the_staff_member(admin_client):
    User.objects.create_user("sup1", first_name="Sueli", last_name="Prado", is_staff=True)
    audit_record(event_type=AuditEvent.EventType.STAFF_SIGNED_OUT, actor=Actor.staff(User(username="sup1")))
    event = AuditEvent.objects.get(event_type=AuditEvent.EventType.STAFF_SIGNED_OUT, actor="sup1")
    page = admin_client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).content.decode()
    assert "Sueli Prado" in page
    heading = page.split("<h2>", 1)[1].split("</h2>", 1)[0]
    assert heading.endswith("por Sueli Prado"), heading
    assert event.actor == "sup1"  # the row keeps the username
