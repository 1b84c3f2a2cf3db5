/** What the adapters of a server that is one process of the bench's own (nats-server, redis-server) share: its pid, its stop. */
export abstract class OneProcessServer<S extends { pid: number; stop(): Promise<void> }> {
  protected server: S | null = null;

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  serverProcessIds(): number[] {
    return this.server === null ? [] : [this.server.pid];
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
  }
}
