"""Audit rows are append-only in the model too, not only by convention: a row written cannot be changed
or deleted through the ORM (the console and every service go through it)."""

import pytest

from audit.models import AuditEvent
from clients.models import ClientAuthPolicy, UsedJti


@pytest.mark.django_db
def test_an_audit_row_can_be_neither_changed_nor_deleted(acme):
    event = AuditEvent.objects.filter(community=acme.community).earliest("id")  # onboarding wrote it
    assert str(event).endswith(event.actor)  # "comunidade criada por manage.py tests"
    event.details = {"rewritten": True}
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).details != {"rewritten": True}


@pytest.mark.django_db
def test_labels_never_show_more_than_a_prefix_or_a_name(acme):
    assert str(UsedJti(key="ab" * 32)) == "used jti abababababab…"
    policy = ClientAuthPolicy(community=acme.community)
    assert str(policy) == "Política de acme community (acme)"
