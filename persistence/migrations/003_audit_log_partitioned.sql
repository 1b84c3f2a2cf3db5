-- 003: audit_log becomes a time-partitioned table (the seed makes it a
-- TimescaleDB hypertable; without that extension, native range
-- partitioning by month does the same job: old months are dropped whole by
-- the retention setting, queries by time touch few partitions).
--
-- * TimescaleDB installed in this database (pg_extension has timescaledb):
--   a hypertable on event_time. Otherwise: PARTITION BY RANGE (event_time),
--   one partition per UTC month named audit_log_pYYYYMM, plus
--   audit_log_default, which takes any row no month partition covers (a far
--   past or future clock never makes an audited action fail).
-- * A partitioned table's unique keys must hold the partition key: the
--   primary key becomes (log_id, event_time). log_id stays a random UUID
--   and nothing references it.
-- * sigplane_audit_log_maintain(now, months_ahead, retention) creates the
--   month partitions from the retention cutoff (or this month) to
--   months_ahead ahead, moving rows out of the default partition, and drops
--   the months wholly older than now - retention (retention NULL: keeps
--   everything). Run by `sigplane audit-log maintain` as the tables' owner.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
ALTER INDEX audit_log_pkey RENAME TO audit_log_unpartitioned_pkey;
ALTER INDEX idx_audit_user RENAME TO idx_audit_user_unpartitioned;
ALTER INDEX idx_audit_type RENAME TO idx_audit_type_unpartitioned;
ALTER INDEX idx_audit_ip RENAME TO idx_audit_ip_unpartitioned;

CREATE FUNCTION sigplane_timescaledb_installed() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') $$;

DO $$
DECLARE
    columns text := $cols$
        log_id          UUID        NOT NULL DEFAULT gen_random_uuid(),
        event_time      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        user_id         UUID        REFERENCES users(user_id),
        event_type      VARCHAR(50) NOT NULL,
        resource_type   VARCHAR(50),
        resource_id     UUID,
        action          VARCHAR(50) NOT NULL,
        ip_address      INET,
        user_agent      TEXT,
        request_payload JSONB,
        response_status INTEGER,
        error_message   TEXT,
        metadata        JSONB,
        PRIMARY KEY (log_id, event_time)
    $cols$;
BEGIN
    IF sigplane_timescaledb_installed() THEN
        EXECUTE 'CREATE TABLE audit_log (' || columns || ')';
        EXECUTE $q$SELECT create_hypertable('audit_log', 'event_time')$q$;
    ELSE
        EXECUTE 'CREATE TABLE audit_log (' || columns || ') PARTITION BY RANGE (event_time)';
        CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
    END IF;
END
$$;

-- The seed's three indexes (on a partitioned table: created on every partition).
CREATE INDEX idx_audit_user ON audit_log(user_id, event_time DESC);
CREATE INDEX idx_audit_type ON audit_log(event_type, event_time DESC);
CREATE INDEX idx_audit_ip ON audit_log(ip_address, event_time DESC);

-- A database that applied a later migration's audit_log index first (a
-- development database migrated out of order) gets it back.
DO $$
BEGIN
    IF to_regclass('idx_audit_time') IS NOT NULL THEN
        DROP INDEX idx_audit_time;
        CREATE INDEX idx_audit_time ON audit_log(event_time DESC, log_id DESC);
    END IF;
END
$$;

INSERT INTO audit_log SELECT * FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;

CREATE FUNCTION sigplane_audit_log_maintain(p_now timestamptz, p_months_ahead integer, p_retention interval)
    RETURNS TABLE (created integer, dropped integer, deleted bigint)
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    v_cutoff timestamptz;
    v_month  timestamptz;
    v_next   timestamptz;
    v_last   timestamptz;
    v_name   text;
    v_moved  bigint;
    r        record;
BEGIN
    created := 0;
    dropped := 0;
    deleted := 0;
    IF p_now IS NULL THEN
        RAISE EXCEPTION 'now must not be null' USING ERRCODE = '22023';
    END IF;
    IF p_months_ahead IS NULL OR p_months_ahead < 0 OR p_months_ahead > 24 THEN
        RAISE EXCEPTION 'months_ahead must be 0..24' USING ERRCODE = '22023';
    END IF;
    IF p_retention IS NOT NULL AND p_retention < interval '1 day' THEN
        RAISE EXCEPTION 'retention must be at least 1 day' USING ERRCODE = '22023';
    END IF;
    v_cutoff := p_now - p_retention;  -- NULL when retention is NULL

    IF sigplane_timescaledb_installed() THEN
        IF v_cutoff IS NOT NULL THEN
            EXECUTE 'SELECT count(*)::int FROM drop_chunks(''audit_log'', older_than => $1)' INTO dropped USING v_cutoff;
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    -- Month partitions (UTC) from the cutoff's month, or this month, to months_ahead ahead.
    -- (GREATEST skips NULLs, hence the CASE; at most 24 past months are made.)
    v_month := date_trunc('month', (CASE WHEN v_cutoff IS NULL THEN p_now ELSE greatest(v_cutoff, p_now - interval '24 months') END)
                                   AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    v_last := (date_trunc('month', p_now AT TIME ZONE 'UTC') + make_interval(months => p_months_ahead)) AT TIME ZONE 'UTC';
    WHILE v_month <= v_last LOOP
        v_next := ((v_month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        v_name := 'audit_log_p' || to_char(v_month AT TIME ZONE 'UTC', 'YYYYMM');
        IF to_regclass(v_name) IS NULL AND (v_cutoff IS NULL OR v_next > v_cutoff) THEN
            EXECUTE format('CREATE TABLE %I (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name);
            -- Rows of that month that landed in the default partition move first: ATTACH refuses otherwise.
            EXECUTE format(
                'WITH moved AS (DELETE FROM audit_log_default WHERE event_time >= $1 AND event_time < $2 RETURNING *) '
                'INSERT INTO %I SELECT * FROM moved', v_name) USING v_month, v_next;
            EXECUTE format('ALTER TABLE audit_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', v_name, v_month, v_next);
            created := created + 1;
        END IF;
        v_month := v_next;
    END LOOP;

    IF v_cutoff IS NOT NULL THEN
        FOR r IN
            SELECT c.relname
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'audit_log'::regclass AND c.relname ~ '^audit_log_p[0-9]{6}$'
        LOOP
            v_month := to_timestamp(substr(r.relname, 12), 'YYYYMM')::timestamp AT TIME ZONE 'UTC';
            v_next := ((v_month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
            IF v_next <= v_cutoff THEN
                EXECUTE format('DROP TABLE %I', r.relname);
                dropped := dropped + 1;
            END IF;
        END LOOP;
        DELETE FROM audit_log_default WHERE event_time < v_cutoff;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        deleted := v_moved;
    END IF;
    RETURN NEXT;
END
$fn$;
REVOKE ALL ON FUNCTION sigplane_audit_log_maintain(timestamptz, integer, interval) FROM PUBLIC;

-- This month and the next three exist from the start.
SELECT sigplane_audit_log_maintain(NOW(), 3, NULL);
