/**
 * Postgres INSERT + NOTIFY on the bench's own Postgres (the embedded
 * binaries, persistence/pg/embedded.ts, in a temporary folder on a free
 * port; the machine's Postgres is left alone), with its durable defaults
 * (fsync on, synchronous_commit on). A master inserts each signal into a
 * table and notifies its subscription's channel in the same transaction;
 * its ack is the COMMIT's reply, sent after the WAL flush. Signals that fall
 * due while a commit is in flight go into the next transaction together
 * (one connection per master, in order: group commit done by the client, as
 * a careful producer would). Each receiver has its own connection and
 * LISTENs on its channel; the notification carries the payload (hex).
 *
 * Pinned: the postmaster and every process it has are pinned after the
 * start; the backends it forks later inherit the mask. CPU and memory are
 * those of all its processes (process-stats.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../persistence/pg/embedded';
import { freeLocalPort } from '../../../persistence/pg/free-port';
import { queryOnce } from '../../pg-admin';
import { alternativePayload, sequenceOfPayload } from '../payload';
import { pinProcessTree } from '../pinning';
import { processTree } from '../process-stats';
import { targetsBySubscription } from '../run-targets';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';

/** Signals in one transaction at most. */
const batchSignalsMax = 1_000;

interface NotifyTarget extends MasterTarget, ReceiverTarget {
  url: string;
  /** A channel name made here from hex digits only: safe as an identifier. */
  channel: string;
}

/** One transaction: the signals inserted in order, then one notification each, in the same order (sent at commit). */
const insertAndNotify =
  'WITH stored AS (INSERT INTO bench_signal (channel, payload) SELECT $1, p FROM unnest($2::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n RETURNING id, payload) ' +
  'SELECT pg_notify($1, payload) FROM stored ORDER BY id';

export class PostgresNotifyAdapter implements SystemAdapter {
  readonly name = 'postgres-notify' as const;
  readonly durability = 'durable' as const;
  readonly receiversMax = { count: 90, why: 'each LISTEN receiver is a Postgres backend (max_connections 100)' };
  description = 'Postgres INSERT + NOTIFY in one transaction; ack = the commit';
  private postgres: EmbeddedPostgres | null = null;
  private dir: string | null = null;
  private postmasterPid: number | null = null;

  get serverPid(): number | null {
    return this.postmasterPid;
  }

  serverProcessIds(): number[] {
    return this.postmasterPid === null ? [] : processTree(this.postmasterPid);
  }

  async start(cpus: string | null = null): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-bench-pg-'));
    this.postgres = await startEmbeddedPostgres(this.dir, { port: await freeLocalPort() });
    this.postmasterPid = Number(fs.readFileSync(path.join(this.dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (cpus !== null) pinProcessTree(() => this.serverProcessIds(), cpus);
    await queryOnce(this.postgres.url, 'CREATE TABLE bench_signal (id bigserial PRIMARY KEY, channel text NOT NULL, payload text NOT NULL)');
    const [settings] = await queryOnce<{ version: string; fsync: string; commit: string }>(
      this.postgres.url,
      "SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS commit",
    );
    this.description =
      `Postgres ${settings.version} (its own cluster, fsync ${settings.fsync}, synchronous_commit ${settings.commit}), INSERT + NOTIFY in one transaction, ` +
      `signals that fall due during a commit batched into the next (up to ${batchSignalsMax}); ack = the commit; receivers LISTEN, one connection each`;
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    return targetsBySubscription(subscriptions, receiversPerSubscription, (sub): NotifyTarget => ({
      sub,
      url: this.postgres!.url,
      channel: `bench_${run}_${sub}`,
    }));
  }

  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as NotifyTarget;
    const client = new Client({ connectionString: t.url });
    await client.connect();
    const due: number[] = [];
    let committing = false;
    const commitDue = (): void => {
      const batch = due.splice(0, batchSignalsMax);
      committing = true;
      client
        .query(insertAndNotify, [t.channel, batch.map((sequence) => alternativePayload(t.sub, sequence).toString('hex'))])
        .then(
          () => batch.forEach((sequence) => events.onAck(sequence)),
          () => batch.forEach((sequence) => events.onRefused(sequence, 'COMMIT_FAILED')),
        )
        .finally(() => {
          committing = false;
          if (due.length > 0) commitDue();
        });
    };
    return {
      prepare() {},
      resent: 0,
      send(sequence) {
        due.push(sequence);
        if (!committing) commitDue();
      },
      close: () => client.end(),
    };
  }

  async finishRun(): Promise<void> {
    await queryOnce(this.postgres!.url, 'TRUNCATE bench_signal');
  }

  async stop(): Promise<void> {
    for (const pid of this.serverProcessIds()) process.kill(pid, 'SIGCONT'); // a paused cluster (server-pause.ts) would not shut down
    await this.postgres?.stop();
    this.postgres = null;
    this.postmasterPid = null;
    if (this.dir !== null) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

export const openPostgresNotifyReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as NotifyTarget;
  const client = new Client({ connectionString: t.url });
  await client.connect();
  client.on('notification', (n) => onDelivery(sequenceOfPayload(Buffer.from(n.payload ?? '', 'hex'))));
  await client.query(`LISTEN ${t.channel}`);
  return { close: () => client.end() };
};
