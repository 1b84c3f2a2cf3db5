/**
 * MAC verification cost on the I/O thread, per signal:
 *
 * - v1: build the seed's payload (two glibc-exact `%.5f`), HMAC-SHA256 under
 *   the secret's bytes, constant-time compare with the decoded hex signature;
 *   with one key, and during a rotation when the second of two keys matches
 *   (two HMACs);
 * - v2: HMAC-SHA256 over a 120-byte body, constant-time compare;
 * - and the `%.5f` formatting alone: the fast path, the exact BigInt path,
 *   and plain `toFixed` as the floor.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/engine/mac-verify.bench.js
 *
 * Inputs rotate through 64 prepared signals so no call sees the same
 * payload twice in a row; results feed a sink so nothing is optimized away.
 */
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import { formatFixed, formatFixedExact, signV1, verifyV1, type V1Fields, macV2, verifyV2 } from '@sigplane/protocol';

const inputCount = 64;
const bodyBytes = 120;

// Buffers, as the I/O thread holds them (a string key costs a UTF-8
// conversion per HMAC, ~0.5 us more on this machine).
const v1Secret = Buffer.from('k3y-For-Subscription-A', 'utf8');
const v1OldSecret = Buffer.from('k3y-For-Subscription-A-previous', 'utf8');

interface V1Input {
  fields: V1Fields;
  signature: string;
}

function v1Inputs(): V1Input[] {
  const inputs: V1Input[] = [];
  for (let i = 0; i < inputCount; i++) {
    const fields: V1Fields = {
      subscriptionId: '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
      sequence: String(1_000_000 + i),
      generatedAt: String(1_767_225_600_000 + i * 250),
      symbol: i % 2 === 0 ? 'EURUSD' : 'XAUUSD',
      orderType: i % 2,
      volume: (1 + (i % 50)) / 100,
      price: i % 2 === 0 ? 1.08765 + i / 100_000 : 2650.5 + i / 100,
    };
    inputs.push({ fields, signature: signV1(v1Secret, fields) });
  }
  return inputs;
}

function v2Inputs(key: Uint8Array): { body: Uint8Array; mac: Uint8Array }[] {
  const inputs = [];
  for (let i = 0; i < inputCount; i++) {
    const body = new Uint8Array(bodyBytes).map((_, j) => (j * 31 + i * 7) & 0xff);
    inputs.push({ body, mac: macV2(key, body) });
  }
  return inputs;
}

export async function run(): Promise<Summary> {
  const v1 = v1Inputs();
  const v2Key = new Uint8Array(32).map((_, j) => (j * 13 + 5) & 0xff);
  const v2 = v2Inputs(v2Key);
  const v2Keys = new Map<string, Uint8Array>([
    ['2026-10', new Uint8Array(32).fill(1)],
    ['2026-11', v2Key],
  ]);
  const prices = v1.map((x) => x.fields.price);
  let i = 0;
  let sink = 0;

  const summary = await b.suite(
    'mac-verify',
    b.add('v1 verify, 1 key (payload + 2x %.5f + HMAC + compare)', () => {
      const x = v1[i++ & (inputCount - 1)];
      const verdict = verifyV1([v1Secret], x.fields, x.signature);
      if (!verdict.ok) throw new Error('bench input did not verify');
      sink += verdict.payload.length;
    }),
    b.add('v1 verify, rotation: 2nd of 2 keys matches (2 HMACs)', () => {
      const x = v1[i++ & (inputCount - 1)];
      const verdict = verifyV1([v1OldSecret, v1Secret], x.fields, x.signature);
      if (!verdict.ok) throw new Error('bench input did not verify');
      sink += verdict.keyIndex;
    }),
    b.add(`v2 verify, ${bodyBytes} B body`, () => {
      const x = v2[i++ & (inputCount - 1)];
      if (verifyV2(v2Keys, '2026-11', x.body, x.mac) !== 'ok') throw new Error('bench input did not verify');
      sink += 1;
    }),
    b.add('formatFixed(price, 5)', () => {
      sink += formatFixed(prices[i++ & (inputCount - 1)], 5).length;
    }),
    b.add('formatFixedExact(price, 5) (BigInt reference)', () => {
      sink += formatFixedExact(prices[i++ & (inputCount - 1)], 5).length;
    }),
    b.add('price.toFixed(5) (floor, not printf)', () => {
      sink += prices[i++ & (inputCount - 1)].toFixed(5).length;
    }),
    b.cycle(),
    b.complete(),
  );
  if (sink === 0) throw new Error('sink');
  return summary;
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
