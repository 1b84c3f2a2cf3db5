/** The shipper's bounds and timings live with every other limit, in proto/limits.ts. */
import { shipper } from '@sigplane/protocol';

export const shipperLimits = shipper;

export type ShipperLimits = { -readonly [K in keyof typeof shipperLimits]: number };
