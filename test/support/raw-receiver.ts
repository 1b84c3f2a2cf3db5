/**
 * A receiver on a bare TCP socket: it does the WebSocket handshake itself
 * and then reads only when the test says so. Unlike a `ws` client, whose
 * pause still leaves the library and the kernel reading for it, this one
 * can really stop reading (the kernel's buffers fill, then the server's),
 * or read at most so many bytes per interval, and say exactly what it got:
 * every decoded frame, the close frame's code, or 1006 when the connection
 * ended without one. It answers pings as any WebSocket client must, but
 * only once it has read them.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { decodeFrame, safeInteger, type DecodedFrame } from '@sigplane/protocol';
import { subscribeFrame } from './signals';

/** What a client reports when the connection ends without a close frame (RFC 6455 7.1.5). */
export const noCloseFrameCode = 1006;

const opcode = { binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export class RawReceiver {
  readonly frames: DecodedFrame[] = [];
  /** The close frame's code, 1006 when the connection ended without one; null while open. */
  closeCode: number | null = null;
  /** When the close frame (or the end) was read, by performance.now(). */
  closedAtMs: number | null = null;
  /** Bytes read from the socket so far (frames and headers). */
  bytesRead = 0;
  private pending: Buffer = Buffer.alloc(0);
  private budgetTimer: NodeJS.Timeout | null = null;
  private budgetLeft = Infinity;
  private closeWaiters: ((code: number) => void)[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.ended(noCloseFrameCode));
    socket.on('error', () => undefined); // 'close' follows
  }

  /** Connects, upgrades with the token and subscribes from `lastSequence`; resolves once the server answered 101. */
  static async open(port: number, token: string, lastSequence: number | null): Promise<RawReceiver> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const key = crypto.randomBytes(16).toString('base64');
    socket.write(
      'GET /v1/receiver HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
    );
    const rest = await new Promise<Buffer>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.pause();
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.toString()}`));
        resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
    const receiver = new RawReceiver(socket);
    receiver.bytesRead = rest.length;
    receiver.pending = rest;
    receiver.parse();
    receiver.sendFrame(opcode.binary, subscribeFrame(lastSequence));
    socket.resume();
    return receiver;
  }

  /** Stop reading: nothing more is taken from the kernel until readNormally or readAtMost. */
  stopReading(): void {
    this.clearBudget();
    this.socket.pause();
  }

  readNormally(): void {
    this.clearBudget();
    this.socket.resume();
  }

  /** Read about `bytes` (whole socket reads, at most one over) every `everyMs`, nothing in between. */
  readAtMost(bytes: number, everyMs: number): void {
    this.clearBudget();
    const refill = (): void => {
      this.budgetLeft = bytes;
      if (this.closeCode === null) this.socket.resume();
    };
    refill();
    this.budgetTimer = setInterval(refill, everyMs);
  }

  /** Send a frame (a Heartbeat, say): writing goes on whether or not this side reads. */
  send(frame: Uint8Array): void {
    this.sendFrame(opcode.binary, frame);
  }

  /** Resolves once a frame that matches has been read. */
  async waitForFrame(match: (f: DecodedFrame) => boolean, timeoutMs: number): Promise<DecodedFrame> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (performance.now() > deadline) throw new Error(`no matching frame within ${timeoutMs} ms (read ${this.frames.length} frames, close ${this.closeCode})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  deliveredSequences(): number[] {
    return this.frames.flatMap((f) => (f.kind === 'delivery' ? [safeInteger(f.delivery.sequenceNumber)!] : []));
  }

  waitForClose(timeoutMs: number): Promise<number> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms (read ${this.bytesRead} bytes, ${this.frames.length} frames)`)), timeoutMs);
      this.closeWaiters.push((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  destroy(): void {
    this.clearBudget();
    this.socket.destroy();
  }

  private clearBudget(): void {
    if (this.budgetTimer !== null) clearInterval(this.budgetTimer);
    this.budgetTimer = null;
    this.budgetLeft = Infinity;
  }

  private onData(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.parse();
    this.budgetLeft -= chunk.length;
    if (this.budgetLeft <= 0) this.socket.pause();
  }

  /** Takes every whole frame from `pending` (server frames are never masked). */
  private parse(): void {
    for (;;) {
      const b = this.pending;
      if (b.length < 2) return;
      const op = b[0]! & 0x0f;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const payload = b.subarray(offset, offset + length);
      this.pending = b.subarray(offset + length);
      if (op === opcode.binary) {
        const frame = decodeFrame(new Uint8Array(payload));
        if (frame === null) throw new Error('the server sent an undecodable frame');
        this.frames.push(frame);
      } else if (op === opcode.ping) {
        this.sendFrame(opcode.pong, payload);
      } else if (op === opcode.close) {
        this.ended(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
        this.socket.end();
        return;
      }
    }
  }

  private sendFrame(op: number, payload: Uint8Array): void {
    if (this.socket.destroyed || this.closeCode !== null) return;
    const mask = crypto.randomBytes(4);
    const header =
      payload.length < 126
        ? Buffer.from([0x80 | op, 0x80 | payload.length])
        : Buffer.from([0x80 | op, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i % 4]!;
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  private ended(code: number): void {
    if (this.closeCode !== null) return;
    this.closeCode = code;
    this.closedAtMs = performance.now();
    this.clearBudget();
    for (const waiter of this.closeWaiters) waiter(code);
    this.closeWaiters = [];
  }
}
