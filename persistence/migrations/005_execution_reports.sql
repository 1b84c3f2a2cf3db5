-- 005: execution reports: what each receiver did with each delivered
-- signal (the Receiver SDK's CopyExecution, client/copier.ts): opened,
-- adopted, closed, reduced, modified, or skipped with a stable reason code.
--
-- One signal may lead to several executions (a netting close then an
-- open), so the key is (receiver, sequence, master position, kind): a
-- report sent twice (reconnect, retry) is the same row. receiver_id is the
-- receiver's license token id; no foreign keys, for the reasons 002 gives
-- for the shipped history (the history outlives the configuration).
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

CREATE TABLE execution_reports (
    report_id          UUID             PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id    UUID             NOT NULL,
    receiver_id        UUID             NOT NULL,
    sequence           BIGINT           NOT NULL CHECK (sequence >= 1),
    master_position_id TEXT             NOT NULL CHECK (length(master_position_id) BETWEEN 1 AND 64),
    kind               TEXT             NOT NULL CHECK (kind IN ('open', 'adopt', 'close', 'reduce', 'modify', 'skip')),
    -- The broker's ticket of the receiver's own position (NULL for a skip).
    ticket             TEXT             CHECK (length(ticket) <= 64),
    volume             DOUBLE PRECISION NOT NULL CHECK (volume >= 0),
    price              DOUBLE PRECISION CHECK (price >= 0),
    -- A stable code (client/copy-rules.ts SkipReason, or a broker code) for skips and failures.
    reason             TEXT             CHECK (length(reason) <= 64),
    executed_at        TIMESTAMPTZ      NOT NULL,
    received_at        TIMESTAMPTZ      NOT NULL DEFAULT NOW(),
    UNIQUE (receiver_id, sequence, master_position_id, kind)
);
CREATE INDEX idx_execution_reports_subscription ON execution_reports(subscription_id, sequence);
CREATE INDEX idx_execution_reports_time ON execution_reports(executed_at DESC);
