/**
 * Only the system being measured runs: the other servers are stopped
 * (SIGSTOP, every process of each) while it runs and continued (SIGCONT)
 * for their own turn. Pinned, every server shares one core, and an idle
 * server's timers or spinning would take it from the one measured; the
 * servers have no client connected between their runs, so a stopped one
 * misses nothing. A server's stop() continues it before it terminates it.
 */
import type { SystemAdapter } from './system';

const signalAll = (adapter: SystemAdapter, signal: 'SIGSTOP' | 'SIGCONT'): void => {
  for (const pid of adapter.serverProcessIds()) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
};

/** Continues `active`'s server and stops every other one (all continue when `active` is null, or `pause` is false). */
export function runAlone(adapters: readonly SystemAdapter[], active: SystemAdapter | null, pause: boolean): void {
  for (const adapter of adapters) signalAll(adapter, !pause || active === null || adapter === active ? 'SIGCONT' : 'SIGSTOP');
}
