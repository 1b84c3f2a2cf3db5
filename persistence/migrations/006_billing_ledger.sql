-- 006: the billing ledger, with the seed's row-level security, for real.
--
-- The tenant is two settings of the current TRANSACTION, set by
-- persistence/pg/tenant.ts (withTenant) with set_config(name, value, true):
--   app.current_user_id   the user (users.user_id) whose rows are visible
--   app.user_role         'admin', 'provider' or 'subscriber'
-- Set per transaction, never per session: a pooled connection cannot carry
-- one request's tenant into the next.
--
-- The seed's policies read current_setting('app.current_user_id')::uuid.
-- That raises an error when the setting was never defined, and on a pooled
-- connection where an earlier transaction defined it, it reads '' after
-- that transaction ended. The functions below read it with missing_ok and
-- give NULL for a missing, empty or malformed value, and the policies
-- require both: without a whole tenant, nothing is visible and nothing may
-- be inserted.
--
-- RLS is ENABLED and FORCED (the table owner is bound too; only a
-- superuser or a BYPASSRLS role is not, and the application role is
-- neither, 007). The ledger is append-only: no UPDATE or DELETE policy, so
-- both change nothing even where granted.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

CREATE FUNCTION app_current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT CASE
                 WHEN current_setting('app.current_user_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                 THEN current_setting('app.current_user_id', true)::uuid
               END
    $$;

CREATE FUNCTION app_current_role() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT CASE
                 WHEN current_setting('app.user_role', true) IN ('admin', 'provider', 'subscriber')
                 THEN current_setting('app.user_role', true)
               END
    $$;

CREATE TABLE billing_ledger (
    entry_id        UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Whose entry it is: the tenant that may read it.
    user_id         UUID        NOT NULL REFERENCES users(user_id),
    subscription_id UUID        REFERENCES subscriptions(subscription_id),
    entry_type      TEXT        NOT NULL CHECK (entry_type IN ('CHARGE', 'CREDIT', 'REFUND', 'FEE', 'PAYOUT', 'ADJUSTMENT')),
    -- Minor units (cents): exact, no floating point in money.
    amount_minor    BIGINT      NOT NULL,
    currency        TEXT        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    description     TEXT        CHECK (length(description) <= 500),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- The admin who wrote it (from the tenant settings).
    created_by      UUID        REFERENCES users(user_id) DEFAULT app_current_user_id()
);
CREATE INDEX idx_billing_ledger_user ON billing_ledger(user_id, created_at DESC);
CREATE INDEX idx_billing_ledger_subscription ON billing_ledger(subscription_id, created_at DESC);

ALTER TABLE billing_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_ledger FORCE ROW LEVEL SECURITY;

-- The seed: users see only their own entries (and only with a valid role
-- set too: half a tenant is no tenant).
CREATE POLICY user_ledger_isolation ON billing_ledger
    FOR SELECT
    USING (user_id = app_current_user_id() AND app_current_role() IS NOT NULL);

-- Admins read every entry (the admin API, fee reports). An addition to the
-- seed's policies: without it an admin's INSERT ... RETURNING of another
-- user's entry would fail.
CREATE POLICY admin_ledger_read ON billing_ledger
    FOR SELECT
    USING (app_current_role() = 'admin' AND app_current_user_id() IS NOT NULL);

-- The seed: only admins insert.
CREATE POLICY admin_ledger_insert ON billing_ledger
    FOR INSERT
    WITH CHECK (app_current_role() = 'admin' AND app_current_user_id() IS NOT NULL);
