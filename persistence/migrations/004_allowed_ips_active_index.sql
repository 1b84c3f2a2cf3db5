-- 004: the seed's partial index on allowed_ips, in a form Postgres accepts.
--
-- The seed writes WHERE expires_at IS NULL OR expires_at > NOW(); an index
-- predicate must be IMMUTABLE and NOW() is not (001 explains). Its intent,
-- "index the entries that can still match", splits into what an index can
-- state: entries that never expire (most allowlists) in one partial index,
-- and the expiry time of the others (for lookups that filter by time and
-- for cleaning up expired entries) in another. Expiry is still checked in
-- every query.
--
-- Applied by persistence/pg/migrate.ts inside one transaction: no BEGIN/COMMIT.

CREATE INDEX idx_allowed_ips_permanent ON allowed_ips(subscription_id, ip_address) WHERE expires_at IS NULL;
CREATE INDEX idx_allowed_ips_expiring ON allowed_ips(expires_at, subscription_id) WHERE expires_at IS NOT NULL;
