-- 020: per-subscriber copy settings, one row per receiver license token.
-- `settings` holds only the overrides of CopySettings
-- (proto/receiver-settings.ts); the defaults live in code, and a token
-- without a row copies with them. `revision` grows with every change: the
-- server sends it with the settings, so a receiver can tell a newer set
-- from an older one. Only receiver tokens have settings (the store inserts
-- through a SELECT on role = 'receiver').

CREATE TABLE receiver_settings (
    token_id        UUID PRIMARY KEY REFERENCES license_tokens(token_id),
    subscription_id UUID NOT NULL REFERENCES subscriptions(subscription_id),
    settings        JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    revision        BIGINT NOT NULL DEFAULT 1 CHECK (revision > 0),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_receiver_settings_subscription ON receiver_settings(subscription_id);
