-- An upgrade refusal used to be stored as AUTH_REFUSED or IP_REFUSED, with
-- the code the client got (UNKNOWN_TOKEN, IP_NOT_ALLOWED, ...) in `detail`.
-- It is now stored under that code, as frame rejections always were, so the
-- operators' queries (docs/security.md) find every refusal by the code the
-- client saw. Rows shipped before are rewritten the same way; journals not
-- yet shipped are rewritten as they ship (persistence/shipper/journal-rows.ts).
UPDATE security_events
   SET code = detail, detail = 'upgrade refused'
 WHERE code IN ('AUTH_REFUSED', 'IP_REFUSED')
   AND detail ~ '^[A-Z_]{1,64}$';
