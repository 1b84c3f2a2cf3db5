/**
 * The delivery window: the last `capacity` accepted signals of one
 * subscription, by sequence, for receiver catch-up and duplicate checks.
 *
 * Accepted sequences are contiguous, so the window is a ring indexed by
 * `sequence % capacity` holding exactly [firstSequence, lastSequence]:
 * O(1) push and lookup, fixed memory. A snapshot clears it (what came
 * before a snapshot is never replayed from memory).
 */
import type { HistoryReader } from './actor-types';
import type { SignalRecord } from '@sigplane/protocol';

export interface DeliveryWindow {
  readonly capacity: number;
  slots: (SignalRecord | undefined)[];
  /** Sequence of the oldest record held; meaningless when count is 0. */
  firstSequence: number;
  count: number;
}

export function createDeliveryWindow(capacity: number): DeliveryWindow {
  if (!(Number.isInteger(capacity) && capacity >= 1)) {
    throw new Error(`createDeliveryWindow: capacity must be an integer >= 1, got ${capacity}`);
  }
  return { capacity, slots: new Array<SignalRecord | undefined>(capacity).fill(undefined), firstSequence: 0, count: 0 };
}

/** Sequence of the newest record, or null when empty. */
export function windowLastSequence(window: DeliveryWindow): number | null {
  return window.count === 0 ? null : window.firstSequence + window.count - 1;
}

/** Append the next accepted record; it must follow the newest one. Evicts the oldest when full. */
export function pushRecord(window: DeliveryWindow, record: SignalRecord): void {
  const last = windowLastSequence(window);
  if (last !== null && record.sequence !== last + 1) {
    throw new Error(`pushRecord: sequence ${record.sequence} does not follow ${last}`);
  }
  window.slots[record.sequence % window.capacity] = record;
  if (window.count === 0) {
    window.firstSequence = record.sequence;
    window.count = 1;
  } else if (window.count < window.capacity) {
    window.count += 1;
  } else {
    window.firstSequence += 1;
  }
}

export function getRecord(window: DeliveryWindow, sequence: number): SignalRecord | undefined {
  if (window.count === 0) return undefined;
  if (sequence < window.firstSequence || sequence >= window.firstSequence + window.count) return undefined;
  const record = window.slots[sequence % window.capacity];
  if (record === undefined || record.sequence !== sequence) {
    throw new Error(`getRecord: slot for ${sequence} holds ${record?.sequence}`);
  }
  return record;
}

export function clearWindow(window: DeliveryWindow): void {
  window.slots.fill(undefined);
  window.firstSequence = 0;
  window.count = 0;
}

/** One accepted signal: from the window, else the journal. Undefined when neither has it. */
export function lookupRecord(
  window: DeliveryWindow,
  history: HistoryReader,
  subscriptionId: string,
  sequence: number,
): SignalRecord | undefined {
  const inWindow = getRecord(window, sequence);
  if (inWindow !== undefined) return inWindow;
  const found = history.readSignals(subscriptionId, sequence, sequence, 1);
  if (found.length === 0) return undefined;
  const record = found[0]!;
  checkHistoryRecord(record, subscriptionId, sequence);
  return record;
}

/**
 * The accepted signals fromSequence..toSequence in order, from the window
 * and (for what the window no longer holds) the journal; null when any of
 * them is missing (journal retention). The caller bounds the range.
 */
export function readRange(
  window: DeliveryWindow,
  history: HistoryReader,
  subscriptionId: string,
  fromSequence: number,
  toSequence: number,
): SignalRecord[] | null {
  if (toSequence < fromSequence) return [];
  const records: SignalRecord[] = [];
  const windowFirst = window.count === 0 ? toSequence + 1 : Math.max(window.firstSequence, fromSequence);
  if (fromSequence < windowFirst) {
    const historyTo = Math.min(windowFirst - 1, toSequence);
    const wanted = historyTo - fromSequence + 1;
    const found = history.readSignals(subscriptionId, fromSequence, historyTo, wanted);
    if (found.length !== wanted) return null;
    for (let i = 0; i < wanted; i++) {
      const record = found[i]!;
      checkHistoryRecord(record, subscriptionId, fromSequence + i);
      records.push(record);
    }
  }
  for (let sequence = Math.max(windowFirst, fromSequence); sequence <= toSequence; sequence++) {
    const record = getRecord(window, sequence);
    if (record === undefined) return null;
    records.push(record);
  }
  return records;
}

/** What the journal hands back is checked again before it is used. */
function checkHistoryRecord(record: SignalRecord, subscriptionId: string, sequence: number): void {
  if (record.subscriptionId !== subscriptionId || record.sequence !== sequence) {
    throw new Error(
      `history returned ${record.subscriptionId}#${record.sequence} for ${subscriptionId}#${sequence}`,
    );
  }
}
