/** The floor server's ring records (bench/load/floor/floor-server.ts): a little-endian u32 channel, then the master's frame as it came. */
export interface FloorWorkerData {
  inRing: SharedArrayBuffer;
  outRing: SharedArrayBuffer;
  journalPath: string;
  /** SQLite's synchronous setting, as sigplane's --journal-sync: 'full' fsyncs each commit, 'normal' leaves it to the OS (WAL). */
  journalSync: 'full' | 'normal';
}

export function floorRecord<B extends Uint8Array>(bytes: B): { channel: number; payload: B } {
  const channel = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24);
  return { channel, payload: bytes.subarray(4) as B };
}
