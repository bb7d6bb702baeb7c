"""The project's member table, read as-is (never migrated from here)."""

from django.db import models


class Member(models.Model):
    community_id = models.BigIntegerField()
    reference = models.CharField(max_length=64)
    bflus = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "communities_member"
