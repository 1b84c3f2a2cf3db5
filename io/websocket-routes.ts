/**
 * The WebSocket paths of the public listener, /v1/master and /v1/receiver:
 * uWS's behaviour on each (frame and buffer limits, idle timeout, pings),
 * the upgrade that lets a connection in (io/upgrade.ts), each frame to its
 * role's handler (io/master-connection.ts, io/receiver-connection.ts), and
 * what opening and closing a connection tell its subscription's shard: a
 * master attaches on open; either role detaches on close (a detach is
 * never lost, engine/shard-host.ts). Any other request on these paths is
 * refused as an upgrade would be.
 */
import { RejectCode, wire } from '@sigplane/protocol';
import type { TemplatedApp } from 'uWebSockets.js';
import type { ShardInbound } from '../engine/shard-protocol';
import type { AsyncUpgradeGuard } from './async-upgrade-guard';
import { CloseCode } from './close-codes';
import { closeSocket, type ConnectionRegistry, type Role, type Socket, type SocketData } from './connections';
import type { FrameContext } from './frame-context';
import type { IncidentControl } from './incident-control';
import { masterPacing, onMasterMessage } from './master-connection';
import type { Metrics } from './metrics';
import type { RateLimit } from './rate-limit/rate-limit-backend';
import { onReceiverMessage } from './receiver-connection';
import type { ServerLog } from './server-options';
import type { SlowConnections } from './slow-connections';
import { handleUpgrade, refuseNonUpgrade, type UpgradeDeps } from './upgrade';

export interface WebSocketRouteDeps {
  /** What the frame handlers may do. */
  frames: FrameContext;
  upgrade: UpgradeDeps;
  connections: ConnectionRegistry;
  incident: IncidentControl;
  metrics: Metrics;
  slow: SlowConnections;
  upgradeGuard: AsyncUpgradeGuard;
  /** The subscription limit in force now (a master's Welcome paces it). */
  subscriptionLimitNow: () => RateLimit;
  /** uWS's DISABLED: no permessage-deflate. */
  noCompression: number;
  log: ServerLog;
}

/** Both paths, masters' first. */
export function registerWebSocketRoutes(app: TemplatedApp, deps: WebSocketRouteDeps): void {
  registerWebSocketRoute(app, '/v1/master', 'master', wire.masterFrameBytesMax, wire.masterBackpressureBytesMax, deps);
  registerWebSocketRoute(app, '/v1/receiver', 'receiver', wire.receiverFrameBytesMax, wire.receiverBackpressureBytesMax, deps);
}

function registerWebSocketRoute(app: TemplatedApp, path: string, role: Role, maxPayloadLength: number, maxBackpressure: number, deps: WebSocketRouteDeps): void {
  const { frames, upgrade } = deps;
  // uWS gives the WebSocket handler only GETs with a Sec-WebSocket-Key; every other request on the path lands here.
  app.any(path, (res, req) => refuseNonUpgrade(res, req, role, upgrade));
  app.ws<SocketData>(path, {
    // Up to twice the limit we answer FRAME_TOO_LARGE and close with 1009;
    // beyond that uWS drops the connection without reading the frame.
    maxPayloadLength: maxPayloadLength * 2,
    // A send past maxBackpressure is refused (DROPPED) and the connection
    // dropped by sendNow. uWS's closeOnBackpressureLimit would only shut
    // the socket's read side, and a close frame sent then is refused too.
    maxBackpressure,
    closeOnBackpressureLimit: 0,
    idleTimeout: wire.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    compression: deps.noCompression,
    upgrade: (res, req, context) => handleUpgrade(res, req, context, role, upgrade),
    open: (ws) => onOpen(ws, deps),
    message: (ws, message, isBinary) => {
      if (message.byteLength > maxPayloadLength) {
        frames.reject(ws, RejectCode.FRAME_TOO_LARGE, `frames are at most ${maxPayloadLength} bytes`, 0);
        return closeSocket(ws, CloseCode.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE');
      }
      if (role === 'master') onMasterMessage(ws, message, isBinary, frames);
      else onReceiverMessage(ws, message, isBinary, frames);
    },
    pong: (ws, message) => {
      if (role === 'receiver') deps.slow.onPong(ws, message, Date.now());
    },
    close: (ws, code) => onClose(ws, code, deps),
  });
}

/** Let in (unless an isolation or a revocation came between its upgrade and now); a master attaches to its actor. */
function onOpen(ws: Socket, deps: WebSocketRouteDeps): void {
  const data = ws.getUserData().connection;
  // Authenticated just before an isolation or a revocation, opened just after it.
  const refusal = deps.incident.refusalOnOpen(data);
  if (refusal !== null) {
    deps.metrics.operatorCloses.inc({ reason: refusal.reason });
    return closeSocket(ws, refusal.code, refusal.reason);
  }
  deps.connections.add(ws);
  if (data.role === 'master') {
    const attach: ShardInbound = {
      t: 'event',
      sub: data.subscriptionId,
      settings: data.settings,
      ev: { kind: 'masterAttach', connId: data.connId, pacing: masterPacing(data.bucket, deps.subscriptionLimitNow()) },
      remoteAddress: data.remoteAddress,
    };
    if (!deps.frames.toShard(data.subscriptionId, attach)) closeSocket(ws, CloseCode.SHARD_RESTART, 'engine busy');
  }
}

/** Forgotten everywhere on this thread, and detached from its actor (unless it was closed on open: the shard never heard of it). */
function onClose(ws: Socket, code: number, deps: WebSocketRouteDeps): void {
  const data = ws.getUserData().connection;
  data.closed = true;
  deps.slow.forget(ws);
  if (deps.upgradeGuard.closedDuringUpgrade(data.connId, code)) {
    deps.metrics.upgradesClosedByCork.inc();
    deps.log('warn', 'uWebSockets closed a connection inside the cork that upgraded it (a known uWS bug); upgrades are no longer corked, so uWS prints a warning for each', {
      connId: data.connId,
      role: data.role,
      subscriptionId: data.subscriptionId,
    });
  }
  if (!deps.connections.remove(ws)) return;
  deps.log('info', 'connection closed', { connId: data.connId, role: data.role, subscriptionId: data.subscriptionId });
  // Before the detach: the ack a receiver's connection holds (an orderly close loses no cursor advance), its BUSY refusals not yet recorded.
  deps.frames.closing(ws);
  const kind = data.role === 'master' ? 'masterDetach' : 'receiverDetach';
  deps.frames.toShard(data.subscriptionId, { t: 'event', sub: data.subscriptionId, ev: { kind, connId: data.connId } });
}
