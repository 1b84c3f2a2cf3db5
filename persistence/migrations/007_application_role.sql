-- 007: the application role, sigplane_app.
--
-- The server and the admin API connect as a LOGIN role that is a member of
-- sigplane_app (e.g. CREATE ROLE sigplane_server LOGIN PASSWORD '...' IN
-- ROLE sigplane_app). sigplane_app owns no table, is no superuser and
-- lacks BYPASSRLS, so the row-level security of 006 binds it. Migrations
-- run as the tables' owner (the role DATABASE_URL names for `sigplane
-- migrate`).
--
-- Roles belong to the whole server, not one database: the role is created
-- when missing (by an owner allowed to create roles; otherwise this
-- migration stops and says what a DBA must run), and refused when it
-- exists with SUPERUSER or BYPASSRLS. Two databases migrating at once may
-- both try to create it: the loser's duplicate is ignored.
--
-- Privileges: what the server needs and no more. The ledger and the audit
-- log are append-only for it (no UPDATE/DELETE on the ledger; audit rows
-- may be updated for GDPR erasure, never deleted); schema_migrations is
-- read-only; DDL (no CREATE on the schema) is the owner's. Tables that
-- later migrations create get the DML privileges by default (ALTER DEFAULT
-- PRIVILEGES); a migration that wants less revokes it.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

DO $$
DECLARE
    r record;
BEGIN
    SELECT rolsuper, rolbypassrls INTO r FROM pg_roles WHERE rolname = 'sigplane_app';
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            RAISE EXCEPTION 'role sigplane_app does not exist and % may not create roles', current_user
                USING HINT = 'as a superuser run: CREATE ROLE sigplane_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; then migrate again';
        END IF;
        BEGIN
            CREATE ROLE sigplane_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another database's migration made it meanwhile
        END;
        SELECT rolsuper, rolbypassrls INTO r FROM pg_roles WHERE rolname = 'sigplane_app';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role sigplane_app has SUPERUSER or BYPASSRLS: row-level security would not bind it'
            USING HINT = 'ALTER ROLE sigplane_app NOSUPERUSER NOBYPASSRLS';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO sigplane_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    users, subscriptions, license_tokens, allowed_ips, mac_keys
    TO sigplane_app;
-- The shipper: rows arrive by INSERT ... ON CONFLICT, cursors and watermarks are raised.
GRANT SELECT, INSERT, UPDATE ON
    signals, security_events, receiver_cursors, subscription_states, journal_watermarks, execution_reports
    TO sigplane_app;
GRANT SELECT, INSERT, UPDATE ON audit_log TO sigplane_app;
GRANT SELECT, INSERT ON billing_ledger TO sigplane_app;
GRANT SELECT ON schema_migrations TO sigplane_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO sigplane_app;

ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sigplane_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sigplane_app;
