/**
 * A TCP proxy in front of a real server (sigplane, Postgres) that a test
 * can cut (every open connection destroyed on both sides at once, as a
 * network failure would, new ones still accepted), black-hole (bytes
 * dropped, connections kept) or close.
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  /** While set, bytes in both directions are dropped (connections stay open). */
  blackhole = false;

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  listen(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('data', (d) => this.blackhole || upstream.write(d));
      upstream.on('data', (d) => this.blackhole || client.write(d));
      for (const s of pair) {
        s.on('error', end);
        s.on('close', end);
      }
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Destroys every open connection (both sides); keeps listening. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** Stops listening (new connections are refused) and cuts the open ones. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.cut();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
