/**
 * The EAs' own MQL5/C++ code (compiled by g++ through mql5/cpp/build.sh)
 * against independent references:
 *   - HMAC-SHA256: RFC 4231's test cases 1-7;
 *   - v1 signing: every case of test/fixtures/signing-v1.json (made with an
 *     independent implementation), payload and signature;
 *   - `%.5f`: 24,000 outputs of glibc's printf (test/fixtures/printf-5f.json)
 *     and exact binary ties, which must round to even (0.015625 -> 0.01562),
 *     compared with the server's formatter (proto/c-printf.ts);
 *   - v2: frames the EA signs decode and verify with the server's codec and
 *     MAC check, and frames the server encodes decode in the EA to the same
 *     fields (doubles compared bit for bit);
 *   - RFC 6455: the Sec-WebSocket-Accept example, the masked "Hello" frame,
 *     the three length encodings, and every kind of server frame a client
 *     must refuse.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  formatFixed,
  verifyV1,
  verifyV2,
  decodeFrame,
  decodeSignalBody,
  decodeSnapshotBody,
  encodeAck,
  encodeDelivery,
  encodeExecutionReportAck,
  encodeFrame,
  encodeReject,
  encodeSnapshot,
  encodeStateChange,
  encodeSyncRequest,
  exactDecimal,
  encodeReceiverSettings,
  resolveCopySettings,
  Action,
  RejectCode,
  SubscriptionState,
  type SignalRecord,
} from '@sigplane/protocol';
import { Prng } from '../support/prng';
import { bits, fromBits, selftest } from './support/selftest';
import { eaBinaries, eaBuildTimeoutMs } from './support/ea-build';

// Compiled here (once per version of the sources) rather than inside a test's own timeout.
beforeAll(() => void eaBinaries(), eaBuildTimeoutMs);

const fixtures = path.resolve(__dirname, '../fixtures');

function hex(s: string | Buffer): string {
  return Buffer.from(s).toString('hex');
}

describe('HMAC-SHA256 over the platform SHA-256 (RFC 4231)', () => {
  const cases: [string, string, string][] = [
    [hex(Buffer.alloc(20, 0x0b)), hex('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    [hex('Jefe'), hex('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    [hex(Buffer.alloc(20, 0xaa)), hex(Buffer.alloc(50, 0xdd)), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
    ['0102030405060708090a0b0c0d0e0f10111213141516171819', hex(Buffer.alloc(50, 0xcd)), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
    [hex(Buffer.alloc(20, 0x0c)), hex('Test With Truncation'), 'a3b6167473100ee06e0c796c2955552b'],
    [hex(Buffer.alloc(131, 0xaa)), hex('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
    [
      hex(Buffer.alloc(131, 0xaa)),
      hex('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ];
  it('gives every RFC 4231 HMAC-SHA-256 value (case 5 truncated to 128 bits, as the RFC)', () => {
    const macs = selftest(cases.map(([key, data]) => `hmac ${key} ${data}`));
    cases.forEach(([, , expected], i) => expect(macs[i].slice(0, expected.length), `case ${i + 1}`).toBe(expected));
  });
});

describe('v1 signing', () => {
  const vectors = JSON.parse(fs.readFileSync(path.join(fixtures, 'signing-v1.json'), 'utf8')) as {
    cases: { secret: string; subscription_id: string; sequence_number: number; generated_at: number; symbol: string; order_type: number; volume: number; price: number; payload: string; signature: string }[];
  };
  const fields = (c: (typeof vectors.cases)[number]) =>
    `${c.subscription_id} ${c.sequence_number} ${c.generated_at} ${c.symbol} ${c.order_type} ${bits(c.volume)} ${bits(c.price)}`;

  it('reproduces the payload and signature of every case of the independent vectors', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(5);
    const answers = selftest(vectors.cases.map((c) => `v1-text-secret ${hex(c.secret)} ${fields(c)}`));
    vectors.cases.forEach((c, i) => expect(answers[i], `case ${i}`).toBe(`${c.payload} ${c.signature}`));
  });

  it('signs with a subscription MAC secret (64 hex characters) as its UTF-8 text, as docs/protocol.md says', () => {
    const withHexSecret = vectors.cases.filter((c) => /^[0-9a-f]{64}$/.test(c.secret));
    expect(withHexSecret.length).toBeGreaterThan(0);
    const answers = selftest(withHexSecret.map((c) => `v1 ${c.secret} ${fields(c)}`));
    withHexSecret.forEach((c, i) => expect(answers[i]).toBe(`${c.payload} ${c.signature}`));
  });

  it('frames a v1 signal the server decodes and verifies', () => {
    const secret = crypto.randomBytes(32).toString('hex');
    const sub = crypto.randomUUID();
    const [frameHex] = selftest([`sign-v1 ${secret} - ${sub} 17 1767225600123 GBPUSD 1 ${bits(0.3)} ${bits(1.27125)} 0 0 ${bits(0)} ${bits(0)} 0`]);
    const frame = decodeFrame(Buffer.from(frameHex, 'hex'));
    expect(frame?.kind).toBe('signalV1');
    if (frame?.kind !== 'signalV1') return;
    const s = frame.signalV1;
    expect({ sub: s.subscriptionId, seq: exactDecimal(s.sequenceNumber), at: exactDecimal(s.generatedAt), symbol: s.symbol, type: s.orderType, volume: s.volume, price: s.price }).toEqual(
      { sub, seq: '17', at: '1767225600123', symbol: 'GBPUSD', type: 1, volume: 0.3, price: 1.27125 },
    );
    const verified = verifyV1([secret], { subscriptionId: sub, sequence: '17', generatedAt: '1767225600123', symbol: 'GBPUSD', orderType: 1, volume: 0.3, price: 1.27125 }, s.signature);
    expect(verified.ok).toBe(true);
  });
});

describe('%.5f as glibc printf writes it', () => {
  it('matches 24,000 glibc outputs', () => {
    const fixture = JSON.parse(fs.readFileSync(path.join(fixtures, 'printf-5f.json'), 'utf8')) as { cases: [string, string][] };
    expect(fixture.cases.length).toBe(24000);
    const answers = selftest(fixture.cases.map(([b]) => `fmt 5 ${b}`));
    const wrong = fixture.cases.filter(([, expected], i) => answers[i] !== expected);
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('rounds exact ties to even, as the server does (not away from zero, as some Windows C runtimes do)', () => {
    // x is a tie at 5 decimals iff x * 2^6 is an odd integer.
    expect(selftest([`fmt 5 ${bits(0.015625)}`, `fmt 5 ${bits(0.046875)}`, `fmt 5 ${bits(1.109375)}`, `fmt 5 ${bits(-0.078125)}`])).toEqual([
      '0.01562',
      '0.04688',
      '1.10938',
      '-0.07812',
    ]);
    const random = new Prng(20261207);
    const ties: number[] = [];
    for (let i = 0; i < 2000; i++) ties.push((2 * Math.floor(random.next() * 2 ** 30) + 1) / 64);
    const answers = selftest(ties.map((x) => `fmt 5 ${bits(x)}`));
    ties.forEach((x, i) => expect(answers[i], String(x)).toBe(formatFixed(x, 5)));
    // And they are real ties: toFixed (ties away) disagrees on about half of them.
    expect(ties.filter((x, i) => x.toFixed(5) !== answers[i]).length).toBeGreaterThan(500);
  });
});

describe('v2: signed body bytes both ways', () => {
  const random = new Prng(424242);
  const secret = crypto.randomBytes(32).toString('hex');
  const key = Buffer.from(secret, 'hex');

  it('signals the EA signs decode and verify with the server codec, field for field', () => {
    const signals = Array.from({ length: 300 }, (_, i) => ({
      sub: crypto.randomUUID(),
      sequence: String(1 + Math.floor(random.next() * 2 ** 52)),
      generatedAt: String(1_700_000_000_000 + Math.floor(random.next() * 1e11)),
      symbol: ['EURUSD', 'XAUUSD', 'US30', 'BTCUSD'][i % 4],
      orderType: i % 9,
      volume: Math.round(random.next() * 10_000) / 100,
      price: random.next() * 3000,
      action: 1 + (i % 4),
      positionId: String(BigInt(Math.floor(random.next() * 2 ** 53)) * BigInt(1 + (i % 2000))),
      stopLoss: i % 3 === 0 ? 0 : random.next() * 3000,
      takeProfit: i % 5 === 0 ? 0 : random.next() * 3000,
      magic: i % 7 === 0 ? '18446744073709551615' : String(Math.floor(random.next() * 1e6)),
    }));
    const answers = selftest(
      signals.map(
        (s) =>
          `sign-v2 ${secret} k1-test ${s.sub} ${s.sequence} ${s.generatedAt} ${s.symbol} ${s.orderType} ${bits(s.volume)} ${bits(s.price)} ${s.action} ${s.positionId} ${bits(s.stopLoss)} ${bits(s.takeProfit)} ${s.magic}`,
      ),
    );
    signals.forEach((s, i) => {
      const frame = decodeFrame(Buffer.from(answers[i], 'hex'));
      expect(frame?.kind).toBe('signalV2');
      if (frame?.kind !== 'signalV2') return;
      expect(frame.signalV2.keyId).toBe('k1-test');
      expect(verifyV2(new Map([['k1-test', key]]), frame.signalV2.keyId, frame.signalV2.body, frame.signalV2.mac)).toBe('ok');
      const b = decodeSignalBody(frame.signalV2.body)!;
      expect({
        sub: b.subscriptionId,
        sequence: exactDecimal(b.sequenceNumber),
        generatedAt: exactDecimal(b.generatedAt),
        symbol: b.symbol,
        orderType: b.orderType,
        volume: b.volume,
        price: b.price,
        action: b.action,
        positionId: exactDecimal(b.positionId),
        stopLoss: b.stopLoss,
        takeProfit: b.takeProfit,
        magic: exactDecimal(b.magic),
      }).toEqual(s);
    });
    // A body tampered with after signing no longer verifies.
    const frame = decodeFrame(Buffer.from(answers[0], 'hex'));
    if (frame?.kind !== 'signalV2') throw new Error('not v2');
    const body = Buffer.from(frame.signalV2.body);
    body[body.length - 1] ^= 1;
    expect(verifyV2(new Map([['k1-test', key]]), 'k1-test', body, frame.signalV2.mac)).toBe('SIGNATURE_INVALID');
  });

  it("a master's snapshot decodes and verifies with the server codec", () => {
    const sub = crypto.randomUUID();
    const [answer] = selftest([
      `snapshot-v2 ${secret} k2-x ${sub} 42 1767225600999 2 ` +
        `501 EURUSD 0 ${bits(0.7)} ${bits(1.1)} ${bits(1.09)} ${bits(1.2)} 7 3 ` +
        `4611686018427387947 XAUUSD 1 ${bits(1.25)} ${bits(2400.5)} ${bits(0)} ${bits(0)} 0 42`,
    ]);
    const frame = decodeFrame(Buffer.from(answer, 'hex'));
    expect(frame?.kind).toBe('snapshotFromMaster');
    if (frame?.kind !== 'snapshotFromMaster') return;
    expect(verifyV2(new Map([['k2-x', key]]), 'k2-x', frame.snapshotFromMaster.body, frame.snapshotFromMaster.mac)).toBe('ok');
    const body = decodeSnapshotBody(frame.snapshotFromMaster.body)!;
    expect(body.subscriptionId).toBe(sub);
    expect(exactDecimal(body.sequenceNumber)).toBe('42');
    expect(body.positions.map((p) => [p.positionId, p.symbol, p.orderType, p.volume, p.openPrice, p.stopLoss, p.takeProfit, exactDecimal(p.magic), exactDecimal(p.openedSequence)])).toEqual([
      ['501', 'EURUSD', 0, 0.7, 1.1, 1.09, 1.2, '7', '3'],
      ['4611686018427387947', 'XAUUSD', 1, 1.25, 2400.5, 0, 0, '0', '42'],
    ]);
  });

  it('frames the server encodes decode in the EA to the same fields', () => {
    const sub = crypto.randomUUID();
    const record = {
      subscriptionId: sub,
      sequence: 9_007_199_254_740_991,
      generatedAtMs: 1_767_225_600_001,
      symbol: 'USDJPY',
      orderType: 1,
      volume: 2.35,
      price: 157.123,
      action: Action.PARTIAL_CLOSE,
      positionId: '18446744073709551615',
      stopLoss: 158.5,
      takeProfit: 0,
      magic: '9',
      signingVersion: 2,
      receivedAtMs: 1_767_225_600_010,
    } as unknown as SignalRecord;
    const settingsFrame = encodeReceiverSettings({
      subscriptionId: sub,
      revision: 7,
      settings: resolveCopySettings({
        symbolSuffix: '.m',
        symbolMap: { XAUUSD: 'GOLD', US30: 'DJ30.cash' },
        lotMode: 'EQUITY_RATIO',
        lotValue: 1.5,
        masterEquity: 20_000,
        lotMax: 5,
        reverse: true,
        copyTakeProfit: false,
        symbolsBlocked: ['USDJPY'],
        magicsAllowed: ['7', '18446744073709551615'],
        signalAgeMsMax: 30_000,
        copyOpenPositions: false,
      }),
    });
    // Welcome with the pacing fields (5, 6) appended by hand: this schema may not know them yet.
    const welcome = Buffer.from(encodeFrame({ welcome: { subscriptionId: sub, state: 2, lastSequence: 41, role: 'master' } }));
    const extra = Buffer.from([0x28, 0xe8, 0x07, 0x30, 0x32]); // field 5 = 1000, field 6 = 50
    // Frame{welcome (13)}: tag 0x6a, then the length byte; grow the length by the appended fields.
    expect(welcome[0]).toBe(0x6a);
    const paced = Buffer.concat([Buffer.from([0x6a, welcome[1] + extra.length]), welcome.subarray(2), extra]);
    const frames = [
      encodeDelivery(record),
      encodeSnapshot(sub, 12, [
        { positionId: '77', symbol: 'EURUSD', orderType: 0, volume: 0.5, openPrice: 1.1, stopLoss: 1.05, takeProfit: 0, magic: '3', openedSequence: 4 },
        { positionId: 'v1:XAUUSD', symbol: 'XAUUSD', orderType: 1, volume: 1, openPrice: 2400, stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 9 },
      ]),
      settingsFrame,
      paced,
      encodeAck(5, 'DUPLICATE'),
      encodeReject(RejectCode.BUSY, 'ring full: resend from 8', 8),
      encodeSyncRequest(3, 6, false),
      encodeStateChange(SubscriptionState.SYNCING, 40, 'held buffer full'),
      encodeExecutionReportAck(12, 'v1:XAUUSD', 4),
    ];
    const decoded = selftest(frames.map((f) => `decode ${Buffer.from(f).toString('hex')}`)).map((line) => JSON.parse(line));
    expect(decoded[0]).toEqual({
      kind: 8,
      subscriptionId: sub,
      sequence: '9007199254740991',
      signingVersion: 2,
      acceptedAt: '1767225600010',
      signal: {
        subscriptionId: sub,
        sequence: '9007199254740991',
        generatedAt: '1767225600001',
        symbol: 'USDJPY',
        orderType: 1,
        volume: bits(2.35),
        price: bits(157.123),
        action: 4,
        positionId: '18446744073709551615',
        stopLoss: bits(158.5),
        takeProfit: bits(0),
        magic: '9',
      },
    });
    expect(decoded[1].kind).toBe(10);
    expect(decoded[1].positions.map((p: { positionId: string; volume: string; openPrice: string; magic: string; openedSequence: string }) => [p.positionId, fromBits(p.volume), fromBits(p.openPrice), p.magic, p.openedSequence])).toEqual([
      ['77', 0.5, 1.1, '3', '4'],
      ['v1:XAUUSD', 1, 2400, '0', '9'],
    ]);
    expect(decoded[2]).toMatchObject({ kind: 14, subscriptionId: sub, revision: '7', problem: '' });
    expect(decoded[2].settings).toMatchObject({
      symbolPrefix: '',
      symbolSuffix: '.m',
      symbolMap: { XAUUSD: 'GOLD', US30: 'DJ30.cash' },
      lotMode: 3,
      lotValue: bits(1.5),
      masterEquity: bits(20_000),
      lotMax: bits(5),
      reverse: true,
      copyStopLoss: true,
      copyTakeProfit: false,
      symbolsBlocked: ['USDJPY'],
      magicsAllowed: ['7', '18446744073709551615'],
      signalAgeMsMax: 30_000,
      copyOpenPositions: false,
    });
    expect(decoded[3]).toEqual({ kind: 13, subscriptionId: sub, state: 2, lastSequence: '41', role: 'master', signalsPerSecond: 1000, signalsBurst: 50 });
    expect(decoded[4]).toEqual({ kind: 4, sequence: '5', status: 2 });
    expect(decoded[5]).toEqual({ kind: 5, code: 11, message: 'ring full: resend from 8', sequence: '8' });
    expect(decoded[6]).toEqual({ kind: 6, from: '3', to: '6', full: false });
    expect(decoded[7]).toEqual({ kind: 11, state: 3, sequence: '40', reason: 'held buffer full' });
    expect(decoded[8]).toEqual({ kind: 16, sequence: '12', masterPositionId: 'v1:XAUUSD', kindOf: 4 });
  });

  it('a Welcome without the pacing fields reads them as 0 (unknown), and garbage is no frame', () => {
    const sub = crypto.randomUUID();
    const welcome = encodeFrame({ welcome: { subscriptionId: sub, state: 1, lastSequence: 3, role: 'master' } });
    const [plain, garbage, truncated] = selftest([`decode ${Buffer.from(welcome).toString('hex')}`, 'decode ff', `decode ${Buffer.from(welcome).toString('hex').slice(0, -4)}`]).map((l) => JSON.parse(l));
    expect(plain).toMatchObject({ kind: 13, signalsPerSecond: 0, signalsBurst: 0 });
    expect(garbage).toEqual({ kind: 0 });
    expect(truncated).toEqual({ kind: 0 });
  });

  it('frames the receiver EA sends decode with the server codec', () => {
    const answers = selftest([
      'encode-control subscribe 1 41',
      'encode-control subscribe 0 0',
      'encode-control delivery-ack 9007199254740991',
      'encode-control sync 5 0 0',
      'encode-control sync 0 0 1',
      `encode-report 12 v1:XAUUSD 4 1 1003 ${bits(0.2)} ${bits(0.2)} 1 ${bits(2400.5)} 1 ${bits(-1.5)} 1 250 1 ${bits(-12.25)} USD - 1767225600000`,
      `encode-report 13 77 6 3 - ${bits(0)} ${bits(0)} 0 ${bits(0)} 0 ${bits(0)} 0 0 0 ${bits(0)} - LOT_BELOW_MIN 1767225600001`,
    ]).map((h) => decodeFrame(Buffer.from(h, 'hex')));
    expect(answers[0]).toMatchObject({ kind: 'subscribe', subscribe: { hasLastSequence: true } });
    expect(exactDecimal((answers[0] as { subscribe: { lastSequence: number } }).subscribe.lastSequence)).toBe('41');
    expect(answers[1]).toMatchObject({ kind: 'subscribe', subscribe: { hasLastSequence: false } });
    expect(exactDecimal((answers[2] as { deliveryAck: { sequenceNumber: number } }).deliveryAck.sequenceNumber)).toBe('9007199254740991');
    expect(answers[3]).toMatchObject({ kind: 'syncRequest', syncRequest: { full: false } });
    expect(answers[4]).toMatchObject({ kind: 'syncRequest', syncRequest: { full: true } });
    expect(answers[5]).toMatchObject({
      kind: 'executionReport',
      executionReport: { masterPositionId: 'v1:XAUUSD', kind: 4, outcome: 1, ticket: '1003', volume: 0.2, hasPrice: true, price: 2400.5, slippagePips: -1.5, hasProfit: true, profit: -12.25, currency: 'USD' },
    });
    expect(answers[6]).toMatchObject({ kind: 'executionReport', executionReport: { kind: 6, outcome: 3, ticket: '', reason: 'LOT_BELOW_MIN', hasPrice: false } });
  });
});

describe('RFC 6455 framing and the opening handshake', () => {
  it("computes the RFC's Sec-WebSocket-Accept example", () => {
    expect(selftest(['accept dGhlIHNhbXBsZSBub25jZQ=='])).toEqual(['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
  });

  it('masks client frames and uses the minimal length encoding', () => {
    const [hello, len125, len126, len65535, len65536] = selftest([
      `ws-encode 1 ${hex('Hello')} 37fa213d`,
      `ws-encode 2 ${'00'.repeat(125)} 00000000`,
      `ws-encode 2 ${'00'.repeat(126)} 00000000`,
      `ws-encode 2 ${'00'.repeat(65535)} 01020304`,
      `ws-encode 2 ${'00'.repeat(65536)} 01020304`,
    ]);
    // RFC 6455 5.7: a masked text message "Hello".
    expect(hello).toBe('818537fa213d7f9f4d5158');
    expect(len125.slice(0, 4)).toBe('82fd');
    expect(len126.slice(0, 8)).toBe('82fe007e');
    expect(len65535.slice(0, 8)).toBe('82feffff');
    expect(len65536.slice(0, 20)).toBe('82ff0000000000010000');
    // The payload is masked: zeros come out as the mask.
    expect(len65536.slice(28, 44)).toBe('0102030401020304');
  });

  it('refuses every server frame a client must refuse', () => {
    const max = 1_000_000;
    const heads = selftest([
      `ws-head 820548656c6c6f ${max}`, // binary "Hello": fine
      `ws-head 82 ${max}`, // incomplete
      `ws-head 828537fa213d ${max}`, // masked by the server
      `ws-head c205 ${max}`, // RSV1 set
      `ws-head 827e0005 ${max}`, // 16-bit length for 5 bytes: not minimal
      `ws-head 827f0000000000000005 ${max}`, // 64-bit length for 5 bytes
      `ws-head 827f8000000000000000 ${max}`, // 64-bit length with the top bit set
      `ws-head 897e007e ${max}`, // ping of 126 bytes
      `ws-head 0900 ${max}`, // fragmented ping
      `ws-head 8300 ${max}`, // reserved opcode
      `ws-head 827e0100 100`, // over the size limit
    ]);
    expect(heads[0]).toBe('1 2 2 5 0');
    expect(heads[1]).toBe('incomplete');
    expect(heads.slice(2, 10).map((h) => h.split(' ')[4])).toEqual(['1002', '1002', '1002', '1002', '1002', '1002', '1002', '1002']);
    expect(heads[10].split(' ')[4]).toBe('1009');
  });

  it('takes wss:// URLs, and ws:// only to a loopback address; never a token in the URL', () => {
    expect(
      selftest([
        'url wss://signals.example.com/v1/master /v1/master',
        'url wss://signals.example.com:8443 /v1/receiver',
        'url ws://127.0.0.1:9000/v1/master /v1/master',
        'url ws://signals.example.com/v1/master /v1/master',
        'url wss://signals.example.com/v1/master?token=spm_x /v1/master',
        'url https://signals.example.com/v1/master /v1/master',
        'url wss://signals.example.com/v1/receiver /v1/master',
      ]).map((a) => a.split(':')[0].split(' ').slice(0, 4).join(' ')),
    ).toEqual(['tls signals.example.com 443 /v1/master', 'tls signals.example.com 8443 /v1/receiver', 'plain 127.0.0.1 9000 /v1/master', 'PLAINTEXT_REFUSED', 'URL_INVALID', 'URL_SCHEME', 'URL_PATH']);
  });
});
