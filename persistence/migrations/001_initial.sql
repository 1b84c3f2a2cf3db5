-- 001: configuration and credentials (users, subscriptions, license tokens,
-- allowed IPs, MAC keys) and the audit log. Tables follow the seed
-- (security-architecture.md) where it defines them; uuid_generate_v4() is
-- replaced by gen_random_uuid(), built into Postgres 13+, so no extension is
-- needed. Applied by persistence/pg/migrate.ts inside one transaction: no
-- BEGIN/COMMIT here.

CREATE TABLE users (
    user_id      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email        TEXT NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    display_name TEXT,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'provider', 'subscriber')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- One signal stream. `settings` holds only the overrides of
-- SubscriptionSettings (engine/limits.ts); the defaults live in code.
CREATE TABLE subscriptions (
    subscription_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_user_id   UUID REFERENCES users(user_id),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    state           TEXT NOT NULL DEFAULT 'ACTIVE'
                    CHECK (state IN ('ACTIVE', 'DEGRADED', 'SYNCING', 'ISOLATED')),
    settings        JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_subscriptions_owner ON subscriptions(owner_user_id);

-- Tokens are stored only as SHA-256 hashes (hex) of their 32 random bytes; the
-- token itself is shown once. token_prefix ('spr_' + 8 hex) lets an operator
-- tell tokens apart without holding them.
CREATE TABLE license_tokens (
    token_id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id UUID NOT NULL REFERENCES subscriptions(subscription_id),
    role            TEXT NOT NULL CHECK (role IN ('master', 'receiver')),
    token_hash      TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    token_prefix    TEXT NOT NULL,
    label           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at      TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    last_used_at    TIMESTAMPTZ
);
CREATE INDEX idx_license_tokens_subscription ON license_tokens(subscription_id);

-- As the seed, with gen_random_uuid().
CREATE TABLE allowed_ips (
    ip_id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id UUID NOT NULL REFERENCES subscriptions(subscription_id),
    ip_address      INET NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at      TIMESTAMPTZ,
    UNIQUE(subscription_id, ip_address)
);

-- The seed declares this index with
--   WHERE expires_at IS NULL OR expires_at > NOW()
-- Postgres refuses that: functions in an index predicate must be IMMUTABLE,
-- and NOW() is not (a row would silently leave the index as time passes
-- without the index being updated). So the predicate is dropped and expiry is
-- checked in every query instead. Lookups by subscription (the hot path:
-- authenticate knows the subscription from the token) use the UNIQUE index.
CREATE INDEX idx_allowed_ips_lookup ON allowed_ips(ip_address, subscription_id);

-- v2 MAC keys (HMAC-SHA256), recoverable, so encrypted by the application
-- (AES-256-GCM under the key-encryption key, persistence/pg/secret-box.ts).
-- The AAD binds (subscription_id, key_id): a ciphertext copied to another row
-- does not open. not_after is set when a key is rotated out: valid until then.
CREATE TABLE mac_keys (
    subscription_id UUID NOT NULL REFERENCES subscriptions(subscription_id),
    key_id          TEXT NOT NULL CHECK (key_id ~ '^k[0-9]+-[0-9a-f]{8}$'),
    ciphertext      BYTEA NOT NULL,
    nonce           BYTEA NOT NULL CHECK (length(nonce) = 12),
    auth_tag        BYTEA NOT NULL CHECK (length(auth_tag) = 16),
    kek_version     INTEGER NOT NULL CHECK (kek_version > 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    not_after       TIMESTAMPTZ,
    PRIMARY KEY (subscription_id, key_id)
);

-- As the seed, minus TimescaleDB (create_hypertable): a plain table.
CREATE TABLE audit_log (
    log_id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_time      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    user_id         UUID REFERENCES users(user_id),
    event_type      VARCHAR(50) NOT NULL,
    resource_type   VARCHAR(50),
    resource_id     UUID,
    action          VARCHAR(50) NOT NULL,
    ip_address      INET,
    user_agent      TEXT,
    request_payload JSONB,
    response_status INTEGER,
    error_message   TEXT,
    metadata        JSONB
);

CREATE INDEX idx_audit_user ON audit_log(user_id, event_time DESC);
CREATE INDEX idx_audit_type ON audit_log(event_type, event_time DESC);
CREATE INDEX idx_audit_ip ON audit_log(ip_address, event_time DESC);
