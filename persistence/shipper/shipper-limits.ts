/** The shipper's bounds and timings live with every other limit, in engine/limits.ts. */
import { shipper } from '../../engine/limits';

export const shipperLimits = shipper;

export type ShipperLimits = { -readonly [K in keyof typeof shipperLimits]: number };
