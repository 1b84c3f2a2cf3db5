/**
 * Byte sizes as operators write them: "8GiB", "500MB", "1048576".
 * Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB,
 * MB, GB, TB) powers of 1000; a bare number is bytes. Case-insensitive.
 */
const units: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Bytes, or null when `text` is not a positive size that fits a safe integer. */
export function parseByteSize(text: string): number | null {
  if (typeof text !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (m === null) return null;
  const unit = units[m[2]!.toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : null;
}
