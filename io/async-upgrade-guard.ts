/**
 * A guard against a uWebSockets bug in the build this project uses (20.30;
 * uNetworking/uWebSockets#1928, fixed upstream by #1929): an upgrade made
 * asynchronously inside `res.cork()` (sigplane looks the token up first)
 * can be closed by `cork()` itself, right after the 101, when it misreads
 * the upgraded socket as an HTTP response marked "connection: close". The
 * client sees 1006 before its first frame.
 *
 * Upgrading without `cork()` avoids it, but then uWS writes a warning to
 * stderr for every upgrade (straight to the file descriptor: Node cannot
 * filter it). So upgrades are corked until the bug is seen once, and
 * uncorked from then on: a process whose memory layout triggers it stops
 * losing connections to it after the first, and one where it never
 * happens never prints those warnings. Seeing it is exact: uWS runs the
 * close callback synchronously inside the cork that made the upgrade, with
 * code 1006, for the very connection being upgraded.
 */

/** The close code uWS reports for a socket closed without a close frame. */
export const abnormalCloseCode = 1006;

export class AsyncUpgradeGuard {
  /** The connection being upgraded inside cork() right now, or null. */
  private upgrading: number | null = null;
  private corkOff = false;

  /** Whether upgrades still go through cork(). */
  get corking(): boolean {
    return !this.corkOff;
  }

  /**
   * Runs `upgrade` (which calls res.upgrade) corked while the bug has not
   * been seen, uncorked after. `cork` is res.cork.
   */
  upgrade(connId: number, cork: (fn: () => void) => void, upgrade: () => void): void {
    if (this.corkOff) {
      upgrade();
      return;
    }
    this.upgrading = connId;
    try {
      cork(upgrade);
    } finally {
      this.upgrading = null;
    }
  }

  /**
   * From the close callback. True when this close is the bug: the
   * connection being upgraded, closed abnormally before its cork returned.
   * From then on upgrades are not corked. (The server counts the trues:
   * sigplane_upgrades_closed_by_cork_total.)
   */
  closedDuringUpgrade(connId: number, code: number): boolean {
    if (this.upgrading !== connId || code !== abnormalCloseCode) return false;
    this.corkOff = true;
    return true;
  }
}
