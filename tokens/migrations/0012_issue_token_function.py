"""The issuing statement as a PL/pgSQL function, so PostgreSQL parses and plans it once per connection.

Sent as one ad-hoc statement (a CTE of a shared lock and two inserts), it was parsed, analysed and
planned on every token request: ~55% of the ~1.0 ms of CPU PostgreSQL spent per token (perf on the
backends under the bench, issue 14). A function's statements are planned once per connection and then
reused, which needs no session state a pooler could lose: PgBouncer's transaction pooling works as
before, where server-side prepared statements break (docs/capacity.md §4).

What it does is what the statement did (tokens/services/issuing_statement.py says why that is as
strict as the issuing transaction): lock the community row FOR SHARE if its entitlement revision is
still the one the caller read, it is active, the credential (a secret by id, salt and digest, unexpired
at the time of issue; or an unretired key) is still its own, and the revision triggers (0010, 0011) are all
there and enabled; then write the token record and its audit row. True if both were written, false if
nothing was.

The two rows come as JSON objects keyed by column and are expanded with ``jsonb_populate_record`` into
the tables' own row types, so the function names no column of theirs: a column a later migration adds
is written as the app sends it, with nothing here to update. (A column the app does not send would be
NULL: tests/test_issuing_statement.py compares the rows the function writes with the transaction's,
field by field.)
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION tokens_issue_if_entitled(
    wanted_community bigint, wanted_revision bigint,
    wanted_secret bigint, wanted_salt text, wanted_digest text, issued_at_time timestamp with time zone,
    wanted_key bigint,
    token_row jsonb, audit_row jsonb
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM communities_community c
    WHERE c.id = wanted_community AND c.entitlement_revision = wanted_revision AND c.is_active
      AND CASE WHEN wanted_secret IS NOT NULL THEN EXISTS (
                   SELECT FROM tokens_clientsecret s
                   WHERE s.id = wanted_secret AND s.salt = wanted_salt AND s.digest = wanted_digest
                     AND s.community_id = c.id AND (s.valid_until IS NULL OR s.valid_until > issued_at_time))
               ELSE EXISTS (
                   SELECT FROM tokens_clientkey k
                   WHERE k.id = wanted_key AND k.community_id = c.id AND k.retired_at IS NULL)
          END
      -- The revision means something only while every trigger that renews it fires.
      AND (SELECT count(*) FROM pg_trigger t
           WHERE (t.tgrelid, t.tgname) IN (
                     ('communities_community'::regclass, 'communities_community_revise'),
                     ('tokens_clientsecret'::regclass, 'tokens_clientsecret_revise'),
                     ('tokens_clientkey'::regclass, 'tokens_clientkey_revise'),
                     ('tokens_clientauthpolicy'::regclass, 'tokens_clientauthpolicy_revise'))
             AND t.tgenabled IN ('O', 'A')) = 4
    FOR SHARE OF c;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO tokens_issuedtoken
        SELECT * FROM jsonb_populate_record(NULL::tokens_issuedtoken, token_row);
    INSERT INTO tokens_auditevent
        SELECT * FROM jsonb_populate_record(
            NULL::tokens_auditevent,
            audit_row || jsonb_build_object(
                'id', nextval(pg_get_serial_sequence('tokens_auditevent', 'id'))));
    RETURN true;
END $$;
"""

BACKWARD = """
DROP FUNCTION tokens_issue_if_entitled(bigint, bigint, bigint, text, text, timestamp with time zone, bigint,
                                       jsonb, jsonb);
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0011_revision_triggers_always"),
        ("audit", "0002_labels_in_portuguese"),
    ]
    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
