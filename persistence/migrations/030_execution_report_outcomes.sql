-- 030: what became of each execution, as the receiver reports it
-- (ExecutionReport frames, docs/protocol.md): the outcome, the fill against
-- the master's price, the delay from the master's generated_at, and for a
-- close or reduce the realized result that performance fees are computed
-- from (031).
--
-- outcome: 'filled', 'partially_filled', 'skipped' (reason holds the stable
--   SkipReason), 'rejected' (reason holds the broker's code).
-- requested_volume: what the copy rules asked for; volume is what filled.
-- slippage_pips: fill price against the master's price, in pips, signed so
--   that positive is worse for the subscriber.
-- delay_ms: from the master's generated_at to the receiver's execution.
-- profit: realized result of a close or reduce, in the account currency,
--   net of commission and swap; NULL for other kinds.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

ALTER TABLE execution_reports
    ADD COLUMN outcome          TEXT             CHECK (outcome IN ('filled', 'partially_filled', 'skipped', 'rejected')),
    ADD COLUMN requested_volume DOUBLE PRECISION CHECK (requested_volume >= 0),
    ADD COLUMN slippage_pips    DOUBLE PRECISION,
    ADD COLUMN delay_ms         BIGINT           CHECK (delay_ms >= 0),
    ADD COLUMN profit           DOUBLE PRECISION,
    ADD COLUMN currency         TEXT             CHECK (length(currency) BETWEEN 3 AND 8);

CREATE INDEX idx_execution_reports_receiver_time ON execution_reports(receiver_id, executed_at);
