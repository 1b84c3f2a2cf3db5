/**
 * The baseline a provider could write in an afternoon: a WebSocket relay
 * (the `ws` package) that forwards every message from /m/<channel> to every
 * socket on /r/<channel> and echoes the first 8 bytes back to the sender as
 * its "ack". No authentication, no MAC, no sequence, no journal, no checks.
 *
 *   node dist/bench/load/ws-relay-server.js [port]     prints "ws-relay listening on port N"
 */
import { WebSocketServer, type WebSocket } from 'ws';

const receivers = new Map<string, Set<WebSocket>>();
const server = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0), perMessageDeflate: false });

server.on('connection', (ws, request) => {
  const [, role, channel] = (request.url ?? '').split('/');
  if (role === 'r') {
    let set = receivers.get(channel);
    if (set === undefined) receivers.set(channel, (set = new Set()));
    set.add(ws);
    ws.on('close', () => set.delete(ws));
    return;
  }
  ws.on('message', (data: Buffer) => {
    for (const receiver of receivers.get(channel) ?? []) receiver.send(data, { binary: true });
    ws.send(data.subarray(0, 8), { binary: true });
  });
});

server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`ws-relay listening on port ${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});

const stop = (): void => {
  for (const ws of server.clients) ws.terminate();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
