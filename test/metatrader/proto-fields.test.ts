/**
 * The EAs' protobuf codec is written by hand (mql5/Include/Sigplane/
 * Frames.mqh); proto/sigplane.proto stays the one source of truth. The
 * codec declares every field and enum value it uses (SpProtoFieldTable,
 * built from the same constants it encodes with); this test reads the
 * .proto with protobufjs and fails when one of them changed there: a
 * number, a type, a field made repeated or a map, a message or value gone.
 */
import path from 'node:path';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selftest } from './support/selftest';
import { eaBinaries, eaBuildTimeoutMs } from './support/ea-build';

// Compiled here (once per version of the sources) rather than inside a test's own timeout.
beforeAll(() => void eaBinaries(), eaBuildTimeoutMs);

const root = protobuf.loadSync(path.resolve(__dirname, '../../proto/sigplane.proto'));

function table(): string[] {
  const lines = selftest(['fields']);
  expect(lines.at(-1)).toBe('end');
  return lines.slice(0, -1);
}

/** Every mismatch between the EA's table and a schema. */
function mismatches(schema: protobuf.Root, lines: string[]): string[] {
  const problems: string[] = [];
  for (const line of lines) {
    const words = line.split(' ');
    if (words[0] === 'enum') {
      const [, qualified, number] = words;
      const [enumName, valueName] = qualified.split('.');
      const e = schema.lookupEnum(`sigplane.${enumName}`);
      if (e.values[valueName] !== Number(number)) problems.push(`${line}: the schema says ${e.values[valueName]}`);
      continue;
    }
    const [qualified, number, ...type] = words;
    const optional = type.at(-1) === 'optional-in-schema';
    if (optional) type.pop();
    const [messageName, fieldName] = qualified.split('.');
    const message = schema.lookupType(`sigplane.${messageName}`);
    const field = message.fields[fieldName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
    if (field === undefined) {
      if (!optional) problems.push(`${line}: no such field in the schema`);
      continue;
    }
    const isMap = field instanceof protobuf.MapField;
    const actual = isMap
      ? `map ${(field as protobuf.MapField).keyType} ${field.type}`
      : `${field.repeated ? 'repeated ' : ''}${field.type}`;
    if (field.id !== Number(number) || actual !== type.join(' ')) problems.push(`${line}: the schema says ${field.id} ${actual}`);
  }
  return problems;
}

describe('the EA codec against proto/sigplane.proto', () => {
  it('declares every field and enum value it uses exactly as the schema has them', () => {
    const lines = table();
    expect(lines.length).toBeGreaterThan(150);
    expect(mismatches(root, lines)).toEqual([]);
  });

  it('fails when the schema changes a field the EAs use', () => {
    const lines = table();
    const edited = (from: string, to: string): protobuf.Root => {
      const text = require('node:fs').readFileSync(path.resolve(__dirname, '../../proto/sigplane.proto'), 'utf8') as string;
      expect(text.includes(from), from).toBe(true);
      return protobuf.parse(text.replace(from, to)).root;
    };
    expect(mismatches(edited('uint64 position_id = 9;', 'uint64 position_id = 19;'), lines)).toEqual([
      'SignalBody.position_id 9 uint64: the schema says 19 uint64',
    ]);
    expect(mismatches(edited('double stop_loss = 10;   // 0 = none', 'float stop_loss = 10;'), lines)[0]).toMatch(/^SignalBody.stop_loss 10 double: the schema says 10 float/);
    expect(mismatches(edited('repeated uint64 magics_allowed = 14;', 'repeated string magics_allowed = 14;'), lines)[0]).toMatch(/magics_allowed 14 repeated uint64/);
    expect(mismatches(edited('  BUSY = 11;', '  BUSY = 21;'), lines)[0]).toMatch(/^enum RejectCode.BUSY 11/);
  });
});
