-- 002: the history shipped from the shard journals (persistence/shipper/).
--
-- Rows arrive by COPY into a TEMP staging table, then INSERT ... SELECT ...
-- ON CONFLICT into these tables, with journal_watermarks advanced in the
-- same transaction: a replayed batch changes nothing, a crashed one leaves
-- nothing. Each table therefore has a key that makes a replay a conflict:
-- signals their (subscription_id, sequence), cursors their (subscription_id,
-- receiver_id), and the append-only histories the row's place of origin
-- (node_id, shard, journal_id): a journal never reuses a journal_id.
--
-- No foreign key to subscriptions: a journal may still hold rows of a
-- subscription deleted since (one FK violation would refuse the whole batch
-- and stall shipping behind it for good), the history must outlive the
-- configuration it came from (audit), and the check would cost a lookup per
-- row on the bulk path. Subscription ids reaching these tables were
-- authenticated by the I/O thread before they were journaled.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

-- Every accepted signal, once. The CHECKs here are a second line behind the
-- journal codec's and only state what no future field rule will change (an
-- upper bound here that a newer rule outgrew would refuse a batch for good).
CREATE TABLE signals (
    subscription_id UUID             NOT NULL,
    sequence        BIGINT           NOT NULL CHECK (sequence >= 1),
    generated_at    TIMESTAMPTZ      NOT NULL,
    symbol          TEXT             NOT NULL CHECK (length(symbol) >= 1),
    order_type      SMALLINT         NOT NULL CHECK (order_type >= 0),
    volume          DOUBLE PRECISION NOT NULL,
    price           DOUBLE PRECISION NOT NULL,
    action          SMALLINT         NOT NULL CHECK (action >= 0),
    -- uint64 (does not fit BIGINT); NULL when the signal has none (v1).
    position_id     NUMERIC(20, 0)   CHECK (position_id >= 0),
    stop_loss       DOUBLE PRECISION NOT NULL,
    take_profit     DOUBLE PRECISION NOT NULL,
    -- The EA's magic number as sent: a decimal uint64, '' for v1.
    magic           TEXT             NOT NULL CHECK (magic ~ '^(|0|[1-9][0-9]{0,19})$'),
    signing_version SMALLINT         NOT NULL CHECK (signing_version IN (1, 2)),
    -- The exact bytes the MAC covered (v1 payload, v2 body).
    content         BYTEA            NOT NULL,
    received_at     TIMESTAMPTZ      NOT NULL,
    shipped_at      TIMESTAMPTZ      NOT NULL DEFAULT NOW(),
    UNIQUE (subscription_id, sequence)
);

-- Refusals and rejections worth keeping. The strings come from the wire
-- (a subscription id a forger sent, an address): TEXT, never cast.
CREATE TABLE security_events (
    node_id         TEXT        NOT NULL,
    shard           INTEGER     NOT NULL CHECK (shard >= 0),
    journal_id      BIGINT      NOT NULL CHECK (journal_id >= 1),
    event_time      TIMESTAMPTZ NOT NULL,
    code            TEXT        NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    subscription_id TEXT,
    role            TEXT        CHECK (role IN ('master', 'receiver')),
    remote_address  TEXT        NOT NULL,
    sequence        BIGINT,
    detail          TEXT        NOT NULL,
    shipped_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (node_id, shard, journal_id)
);
-- No index on the wire strings: a B-tree entry is limited to about 2.7 kB,
-- the journal admits longer strings here, and one such row would refuse its
-- batch for good. Queries by subscription filter a time range first.
CREATE INDEX idx_security_events_time ON security_events (event_time DESC);

-- The highest sequence each receiver (license token id) acknowledged: only
-- ever raised.
CREATE TABLE receiver_cursors (
    subscription_id UUID        NOT NULL,
    receiver_id     UUID        NOT NULL,
    sequence        BIGINT      NOT NULL CHECK (sequence >= 0),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (subscription_id, receiver_id)
);

-- Every state change of every subscription, in the order its shard made them.
CREATE TABLE subscription_states (
    node_id         TEXT        NOT NULL,
    shard           INTEGER     NOT NULL CHECK (shard >= 0),
    journal_id      BIGINT      NOT NULL CHECK (journal_id >= 1),
    subscription_id UUID        NOT NULL,
    state           TEXT        NOT NULL CHECK (state IN ('ACTIVE', 'DEGRADED', 'SYNCING', 'ISOLATED')),
    sequence        BIGINT      NOT NULL CHECK (sequence >= 0),
    reason          TEXT        NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL,
    shipped_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (node_id, shard, journal_id)
);
CREATE INDEX idx_subscription_states_subscription ON subscription_states (subscription_id, changed_at DESC);

-- How far each journal table of each node's shard has been shipped: every
-- row with journal_id <= shipped_journal_id is in the tables above. Written
-- only in the transaction that ships the rows; only ever raised.
CREATE TABLE journal_watermarks (
    node_id            TEXT        NOT NULL CHECK (length(node_id) BETWEEN 1 AND 128),
    shard              INTEGER     NOT NULL CHECK (shard >= 0),
    table_name         TEXT        NOT NULL CHECK (table_name IN ('signals', 'security_events', 'cursors', 'states')),
    shipped_journal_id BIGINT      NOT NULL DEFAULT 0 CHECK (shipped_journal_id >= 0),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (node_id, shard, table_name)
);
