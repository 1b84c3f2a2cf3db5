-- 010: the admin HTTP API (io/admin/) and its CLI.
--
-- Admin users are rows of `users` with role 'admin' (so audit_log.user_id,
-- which references users, names who did what); what each may do is the
-- admin_role of the credential it authenticates with: 'admin' (everything),
-- 'operator' (subscriptions, credentials, allowlists, incidents) or
-- 'auditor' (read only). Credentials are stored as SHA-256 hashes of their
-- 32 random bytes, like license_tokens: the token ('spa_' + 64 hex + '_' +
-- CRC-32) is shown once.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

CREATE TABLE admin_credentials (
    credential_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       UUID NOT NULL REFERENCES users(user_id),
    admin_role    TEXT NOT NULL CHECK (admin_role IN ('admin', 'operator', 'auditor')),
    token_hash    TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    token_prefix  TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX idx_admin_credentials_user ON admin_credentials(user_id);

-- GDPR erasure: the row stays (audit_log, subscriptions and the ledger keep
-- pointing at it), its personal data is replaced and erased_at says when.
ALTER TABLE users ADD COLUMN erased_at TIMESTAMPTZ;

-- Keyset pagination: the audit log newest first, subscriptions oldest first.
CREATE INDEX idx_audit_time ON audit_log(event_time DESC, log_id DESC);
CREATE INDEX idx_subscriptions_created ON subscriptions(created_at, subscription_id);
