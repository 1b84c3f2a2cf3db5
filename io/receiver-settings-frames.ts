/**
 * Receiver licenses' copy settings as ReceiverSettings frames: loaded when
 * a receiver subscribes (io/receiver-connection.ts sends them before the
 * subscribe reaches the shard) and, when an operator changes them (the
 * control channel), sent again to every subscribed session of the license;
 * a receiver keeps the highest revision.
 */
import { encodeReceiverSettings, type ReceiverSettingsMessage } from '@sigplane/protocol';
import type { ConnectionRegistry, Socket } from './connections';
import type { ServerLog } from './server-options';

export type ReceiverSettingsFrameSource = (tokenId: string) => Promise<Uint8Array>;

/** The license's settings as a frame; undefined without a source (the server sends none). */
export function receiverSettingsFrames(source: ((tokenId: string) => Promise<ReceiverSettingsMessage>) | undefined): ReceiverSettingsFrameSource | undefined {
  return source === undefined ? undefined : async (tokenId) => encodeReceiverSettings(await source(tokenId));
}

export interface SettingsResendDeps {
  load: ReceiverSettingsFrameSource | undefined;
  connections: ConnectionRegistry;
  sendTo: (ws: Socket, frame: Uint8Array) => void;
  log: ServerLog;
}

/** The license's settings changed: every subscribed session of it gets them again. */
export function resendReceiverSettings(tokenId: string, deps: SettingsResendDeps): void {
  const load = deps.load;
  if (load === undefined) return;
  load(tokenId).then(
    (frame) => {
      for (const ws of deps.connections.ofToken(tokenId)) {
        const data = ws.getUserData().connection;
        if (data.role === 'receiver' && data.subscribed && !data.closed) ws.cork(() => deps.sendTo(ws, frame));
      }
    },
    (error: unknown) => deps.log('warn', 'receiver settings not resent', { tokenId, error: (error as Error).message }),
  );
}
