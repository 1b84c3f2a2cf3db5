/**
 * A raw WebSocket peer for end-to-end tests: sends any bytes, records every
 * decoded frame, and waits for frames by predicate. Adversarial tests use it
 * where the SDK would refuse to send what they need to send.
 */
import WebSocket from 'ws';
import { decodeFrame, type DecodedFrame } from '@sigplane/protocol';

export interface UpgradeRefusal {
  status: number;
  body: string;
  headers?: Record<string, string | string[] | undefined>;
}

export class WireClient {
  readonly frames: DecodedFrame[] = [];
  closeCode: number | null = null;
  private waiters: { match: (f: DecodedFrame) => boolean; resolve: (f: DecodedFrame) => void }[] = [];
  private closeWaiters: ((code: number) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(new Uint8Array(data));
      if (frame === null) throw new Error('server sent an undecodable frame');
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.closeWaiters) w(code);
      this.closeWaiters = [];
    });
  }

  /** Connect, or resolve with the HTTP refusal when the upgrade is refused. */
  static connect(
    url: string,
    token: string | null,
    options: { localAddress?: string; headers?: Record<string, string>; /** wss: the CA to trust (a test's own certificate). */ ca?: string } = {},
  ): Promise<WireClient | UpgradeRefusal> {
    const headers: Record<string, string> = { ...options.headers };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const ws = new WebSocket(url, { headers, localAddress: options.localAddress, perMessageDeflate: false, ca: options.ca });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WireClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      ws.once('error', (error) => reject(error));
    });
  }

  static async open(url: string, token: string, options: { localAddress?: string; ca?: string } = {}): Promise<WireClient> {
    const result = await WireClient.connect(url, token, options);
    if (!(result instanceof WireClient)) throw new Error(`upgrade refused: ${result.status} ${result.body}`);
    return result;
  }

  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** The next frame (already received or future) that matches, in arrival order. */
  waitFor(match: (f: DecodedFrame) => boolean, timeoutMs = 10_000, from = 0): Promise<DecodedFrame> {
    const seen = this.frames.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${this.describe()}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /**
   * The welcome, or the close code when the socket closes before it (uWS can
   * close a connection right after its upgrade: io/async-upgrade-guard.ts).
   */
  welcomeOrClose(timeoutMs = 10_000): Promise<DecodedFrame | number> {
    const seen = this.frames.find((f) => f.kind === 'welcome');
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no welcome and no close within ${timeoutMs} ms; got ${this.describe()}`)), timeoutMs);
      const settle = (outcome: DecodedFrame | number): void => {
        clearTimeout(timer);
        resolve(outcome);
      };
      this.waiters.push({ match: (f) => f.kind === 'welcome', resolve: settle });
      this.closeWaiters.push(settle);
    });
  }

  waitForClose(timeoutMs = 10_000): Promise<number> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  ofKind<K extends DecodedFrame['kind']>(kind: K): Extract<DecodedFrame, { kind: K }>[] {
    return this.frames.filter((f): f is Extract<DecodedFrame, { kind: K }> => f.kind === kind);
  }

  describe(): string {
    return JSON.stringify(this.frames.slice(-5).map((f) => f.kind));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
