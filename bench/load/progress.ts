/** Progress lines on stderr while the load bench runs (stdout stays free for the caller). */
import { significant } from '../results-markdown';
import { unacceptedSignals, type RunResult } from './run-workload';
import { describeWorkload } from './workload';

const startedMs = Date.now();

export function progress(message: string): void {
  const elapsed = ((Date.now() - startedMs) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`bench:load ${elapsed}s  ${message}\n`);
}

export function describeRun(r: RunResult): string {
  const d = r.delivery;
  const parts = [
    `${r.system.padEnd(8)} ${describeWorkload(r.workload)}:`,
    `delivery p50 ${significant(d.p50Us)} p99 ${significant(d.p99Us)} max ${significant(d.maxUs)} µs,`,
    `ack p99 ${significant(r.ack.p99Us)} µs,`,
    `${significant(r.deliveriesPerSecond)} deliveries/s,`,
    `lost ${r.lost}${unacceptedSignals(r) > 0 ? ` (of ${unacceptedSignals(r)} signals never accepted)` : ''}, dup ${r.duplicates}${r.resent > 0 ? `, resent ${r.resent} (BUSY)` : ''}${r.receiverReconnects > 0 ? `, receivers closed by the server and resumed ${r.receiverReconnects}` : ''}${r.refused > 0 ? `, refused ${r.refused} ${JSON.stringify(r.refusedCodes)}` : ''},`,
    `server ${r.serverCpuCores === null ? '?' : r.serverCpuCores.toFixed(2)} cores, load ${r.loadCpuCores.toFixed(2)} cores`,
  ];
  if (r.loadSaturation !== null) parts.push(`[load side: ${r.loadSaturation}]`);
  return parts.join(' ');
}
