-- Execution reports come from receivers (ExecutionReport frames) through the
-- shard journal, and the shipper moves the journal's execution_reports table
-- under the same watermark scheme as the other histories. Migration 005's
-- key (receiver_id, sequence, master_position_id, kind) makes a replayed or
-- resent report a conflict, so each lands once.
ALTER TABLE journal_watermarks DROP CONSTRAINT journal_watermarks_table_name_check;
ALTER TABLE journal_watermarks ADD CONSTRAINT journal_watermarks_table_name_check
    CHECK (table_name IN ('signals', 'security_events', 'cursors', 'states', 'execution_reports'));

-- Copy statistics per subscription over a time range (admin API).
CREATE INDEX idx_execution_reports_subscription_time ON execution_reports(subscription_id, executed_at);
