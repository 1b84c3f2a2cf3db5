-- 032: the audit log is append-only for the application role, partitions
-- included.
--
-- 007 gave sigplane_app UPDATE and DELETE by default on every table created
-- later, so each month partition that `sigplane audit-log maintain` creates
-- (003) came with them: DELETE FROM audit_log_p202704 as sigplane_app
-- removed rows, although DELETE on the parent audit_log is refused. Found by
-- the security review (docs/security.md).
--
-- From here on the default is SELECT and INSERT only: a migration that
-- wants the application to update or delete grants that explicitly (the
-- tables created before this one keep what they were given). Existing
-- partitions lose UPDATE, DELETE and TRUNCATE. On audit_log itself the
-- application may update only the three personal-data columns that GDPR
-- erasure clears (persistence/pg/gdpr-store.ts); the record of what
-- happened stays as written.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE UPDATE, DELETE, TRUNCATE ON TABLES FROM sigplane_app;

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit_log'::regclass
    LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM sigplane_app', r.relname);
    END LOOP;
END
$$;

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM sigplane_app;
GRANT UPDATE (ip_address, user_agent, request_payload) ON audit_log TO sigplane_app;
