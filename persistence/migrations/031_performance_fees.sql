-- 031: performance fees with a high-water mark (persistence/pg/performance-fees.ts;
-- the formula is in docs/receivers.md, "Performance fees").
--
-- The unit that is charged is one receiver license (license_tokens row,
-- role 'receiver'): one trading account, one account currency, one series
-- of closed results (execution_reports.receiver_id is the license's
-- token_id). The license's user, who pays and may read the entries, is
-- named in receiver_subscribers. The fee rate is per subscription
-- (performance_fee_rates; no row = 0 = no fee). The high-water mark is per
-- license (performance_fee_marks) and each period's computation is one row
-- of performance_fee_periods, whose primary key (token_id, period) makes a
-- period's charge happen once: license -> (subscriber user, subscription),
-- so it is also unique per (subscriber, subscription, period).
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

-- Who pays for a receiver license. The run skips licenses without a row
-- (nothing is charged, no mark is set). A license may be reassigned only
-- while no period has been computed for it (the store checks).
CREATE TABLE receiver_subscribers (
    token_id    UUID        PRIMARY KEY REFERENCES license_tokens(token_id),
    user_id     UUID        NOT NULL REFERENCES users(user_id),
    assigned_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_receiver_subscribers_user ON receiver_subscribers(user_id);

-- The fee rate of a subscription in basis points (2000 = 20%), at most
-- 5000 (50%). No row: 0, no fee. A change applies from the next period run.
CREATE TABLE performance_fee_rates (
    subscription_id UUID        PRIMARY KEY REFERENCES subscriptions(subscription_id),
    rate_bp         INTEGER     NOT NULL CHECK (rate_bp BETWEEN 0 AND 5000),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- The high-water mark of a license: the highest cumulative closed profit
-- (minor units of the account currency) seen at the end of a computed
-- period, never below 0. Only rises.
CREATE TABLE performance_fee_marks (
    token_id        UUID        PRIMARY KEY REFERENCES license_tokens(token_id),
    subscription_id UUID        NOT NULL REFERENCES subscriptions(subscription_id),
    user_id         UUID        NOT NULL REFERENCES users(user_id),
    currency        TEXT        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    mark_minor      BIGINT      NOT NULL CHECK (mark_minor >= 0),
    -- The latest period computed (first day of its month): earlier ones are refused.
    last_period     DATE        NOT NULL CHECK (EXTRACT(DAY FROM last_period) = 1),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- One row per license and computed period, fee or not: the record of what
-- was computed, and the key that makes it happen once.
CREATE TABLE performance_fee_periods (
    token_id            UUID        NOT NULL REFERENCES license_tokens(token_id),
    -- First day of the month (UTC) the period covers.
    period              DATE        NOT NULL CHECK (EXTRACT(DAY FROM period) = 1),
    subscription_id     UUID        NOT NULL REFERENCES subscriptions(subscription_id),
    user_id             UUID        NOT NULL REFERENCES users(user_id),
    currency            TEXT        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    rate_bp             INTEGER     NOT NULL CHECK (rate_bp BETWEEN 0 AND 5000),
    -- Closed results executed inside the period.
    result_count        INTEGER     NOT NULL CHECK (result_count >= 0),
    -- Cumulative closed profit at the period's end (all results executed before it).
    cumulative_minor    BIGINT      NOT NULL,
    previous_mark_minor BIGINT      NOT NULL CHECK (previous_mark_minor >= 0),
    mark_minor          BIGINT      NOT NULL CHECK (mark_minor >= previous_mark_minor),
    fee_minor           BIGINT      NOT NULL CHECK (fee_minor >= 0),
    -- The FEE entry written (NULL when the fee is 0).
    ledger_entry_id     UUID        UNIQUE REFERENCES billing_ledger(entry_id),
    computed_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    computed_by         UUID        REFERENCES users(user_id) DEFAULT app_current_user_id(),
    PRIMARY KEY (token_id, period),
    CHECK ((fee_minor = 0) = (ledger_entry_id IS NULL))
);
CREATE INDEX idx_performance_fee_periods_user ON performance_fee_periods(user_id, period DESC);
CREATE INDEX idx_performance_fee_periods_subscription ON performance_fee_periods(subscription_id, period DESC);

-- The closed results of one license in time order (the run's reads).
CREATE INDEX idx_execution_reports_closed_results ON execution_reports(receiver_id, executed_at)
    WHERE kind IN ('close', 'reduce') AND profit IS NOT NULL;

-- Row-level security like the ledger's (006), enabled and forced: a
-- subscriber reads its own period rows, an admin tenant reads and writes
-- all; marks are the admin tenant's only. Append-only periods: no UPDATE or
-- DELETE policy.
ALTER TABLE performance_fee_periods ENABLE ROW LEVEL SECURITY;
ALTER TABLE performance_fee_periods FORCE ROW LEVEL SECURITY;
CREATE POLICY fee_period_own_read ON performance_fee_periods
    FOR SELECT
    USING (user_id = app_current_user_id() AND app_current_role() IS NOT NULL);
CREATE POLICY fee_period_admin_read ON performance_fee_periods
    FOR SELECT
    USING (app_current_role() = 'admin' AND app_current_user_id() IS NOT NULL);
CREATE POLICY fee_period_admin_insert ON performance_fee_periods
    FOR INSERT
    WITH CHECK (app_current_role() = 'admin' AND app_current_user_id() IS NOT NULL);

ALTER TABLE performance_fee_marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE performance_fee_marks FORCE ROW LEVEL SECURITY;
CREATE POLICY fee_mark_admin ON performance_fee_marks
    FOR ALL
    USING (app_current_role() = 'admin' AND app_current_user_id() IS NOT NULL)
    WITH CHECK (app_current_role() = 'admin' AND app_current_user_id() IS NOT NULL);

-- The application role (007): configuration tables in full; periods
-- append-only; marks never deleted.
GRANT SELECT, INSERT, UPDATE, DELETE ON receiver_subscribers, performance_fee_rates TO sigplane_app;
GRANT SELECT, INSERT ON performance_fee_periods TO sigplane_app;
REVOKE UPDATE, DELETE, TRUNCATE ON performance_fee_periods FROM sigplane_app;
GRANT SELECT, INSERT, UPDATE ON performance_fee_marks TO sigplane_app;
REVOKE DELETE, TRUNCATE ON performance_fee_marks FROM sigplane_app;
