/** The shipper's bounds and timings (proto/limits.ts `shipper`) as startShipper takes them: each may be overridden. */
import type { shipper } from '@sigplane/protocol';

export type ShipperLimits = { -readonly [K in keyof typeof shipper]: number };
