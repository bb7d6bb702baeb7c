"""A client_id is matched exactly, and no two communities differ only in letter case (SPEC §4)."""

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse

from communities.models import Community
from tests.conftest import make_community
from tests.test_admin import form_key


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["ACME", "Acme", "acmE"])
def test_create_community_refuses_a_client_id_equal_ignoring_case(acme, variant):
    with pytest.raises(CommandError, match="already|Já existe"):
        call_command("create_community", "--client-id", variant, "--name", "Impostor", stdout=io.StringIO())
    assert list(Community.objects.values_list("client_id", flat=True)) == ["acme"]


@pytest.mark.django_db
def test_the_database_itself_refuses_a_case_variant(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        Community.objects.create(client_id="ACME", name="Impostor")


@pytest.mark.django_db
def test_the_console_refuses_a_case_variant_with_a_form_error(client, acme):
    client.force_login(User.objects.create_superuser("root", password="x"))
    page = reverse("admin:communities_community_add")
    response = client.post(
        page,
        {
            "client_id": "ACME",
            "name": "Impostor",
            "permissions": ["bflus:read"],
            "form_key": form_key(client, page),
        },
    )
    assert response.status_code == 200
    assert re.search("already exists|Já existe", response.content.decode())
    assert Community.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["newco\n", "newco\r\n", " newco"])
def test_a_client_id_with_a_trailing_newline_or_space_is_refused(client_id):
    with pytest.raises(CommandError):
        call_command("create_community", "--client-id", client_id, "--name", "X", stdout=io.StringIO())
    assert not Community.objects.exists()


@pytest.mark.django_db
def test_different_client_ids_still_coexist():
    make_community("acme")
    make_community("acme-2")
    assert Community.objects.count() == 2
