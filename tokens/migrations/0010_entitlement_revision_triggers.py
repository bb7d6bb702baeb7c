"""PostgreSQL triggers that give ``Community.entitlement_revision`` a new value on every change that
decides whether a community may get a token: any write to its row (deactivation, permissions, lifetime,
"revoke all"), and any new, deleted or changed secret, key or authentication policy.

The values come from one sequence, and an update never gives a row a value it had before (even with the
sequence set back), so a revision names exactly one state of one community and its policy: what lets a
process keep that state by revision (tokens/services/issuance.py). The issuing statement also checks
that these triggers are there and enabled, and is not used otherwise (tokens/services/issuing_statement.py).

Triggers, not code in the services: they also catch the admin, the shell and any later path. Only the
columns that matter fire on secrets and keys, so the ``last_used_at`` write a token request makes moves
nothing: it would otherwise lock the community row exclusively while the partner's other token requests
hold it shared. (That write comes after the issuing transaction, never while it holds the community row:
a secret written by hand locks the secret's row, then, through these triggers, waits for the community's;
an issuer holding the community's row and waiting for the secret's would close the circle.) SQLite has
no such path (tokens/services/issuing_statement.py) and gets no triggers.
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE communities_entitlement_revision;
-- Above every value already given out (this migration applied, reverted, applied again).
SELECT setval('communities_entitlement_revision',
              COALESCE((SELECT max(entitlement_revision) FROM communities_community), 0) + 1, false);
CREATE FUNCTION communities_community_revise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.entitlement_revision := nextval('communities_entitlement_revision');
    ELSE
        -- Never a value this row had before, even if the sequence was set back (a restore, a copy
        -- that did not carry sequences over): a revision names one state of one community, for good.
        NEW.entitlement_revision := GREATEST(nextval('communities_entitlement_revision'),
                                             OLD.entitlement_revision + 1);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER communities_community_revise BEFORE INSERT OR UPDATE ON communities_community
    FOR EACH ROW EXECUTE FUNCTION communities_community_revise();
UPDATE communities_community SET entitlement_revision = entitlement_revision;

CREATE FUNCTION tokens_community_revise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The row update fires communities_community_revise, which moves the revision.
    IF TG_OP <> 'INSERT' THEN
        UPDATE communities_community SET entitlement_revision = entitlement_revision WHERE id = OLD.community_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE communities_community SET entitlement_revision = entitlement_revision WHERE id = NEW.community_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tokens_clientsecret_revise
    AFTER INSERT OR DELETE OR UPDATE OF community_id, salt, digest, valid_until ON tokens_clientsecret
    FOR EACH ROW EXECUTE FUNCTION tokens_community_revise();
CREATE TRIGGER tokens_clientkey_revise
    AFTER INSERT OR DELETE OR UPDATE OF community_id, kid, thumbprint, key_type, public_jwk, retired_at
    ON tokens_clientkey
    FOR EACH ROW EXECUTE FUNCTION tokens_community_revise();
CREATE TRIGGER tokens_clientauthpolicy_revise AFTER INSERT OR DELETE OR UPDATE ON tokens_clientauthpolicy
    FOR EACH ROW EXECUTE FUNCTION tokens_community_revise();
"""

BACKWARD = """
DROP TRIGGER tokens_clientauthpolicy_revise ON tokens_clientauthpolicy;
DROP TRIGGER tokens_clientkey_revise ON tokens_clientkey;
DROP TRIGGER tokens_clientsecret_revise ON tokens_clientsecret;
DROP FUNCTION tokens_community_revise();
DROP TRIGGER communities_community_revise ON communities_community;
DROP FUNCTION communities_community_revise();
DROP SEQUENCE communities_entitlement_revision;
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0009_client_auth_staff_permissions"),
        ("communities", "0006_entitlement_revision"),
    ]
    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
