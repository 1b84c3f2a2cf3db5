import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCursor, writeCursor } from '../client/receiver-cursor';

let folder: string;
beforeEach(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-cursor-'));
});
afterEach(() => {
  fs.rmSync(folder, { recursive: true, force: true });
});

describe('receiver cursor file', () => {
  it('is absent until written, then reads back what was written last', async () => {
    const file = path.join(folder, 'cursor.json');
    expect(readCursor(file)).toBeNull();
    await writeCursor(file, { version: 1, lastExecuted: 5, subscriptionId: 'sub', updatedAtMs: 1 });
    await writeCursor(file, { version: 1, lastExecuted: 6, subscriptionId: 'sub', updatedAtMs: 2 });
    expect(readCursor(file)).toEqual({ version: 1, lastExecuted: 6, subscriptionId: 'sub', updatedAtMs: 2 });
    expect(fs.readdirSync(folder)).toEqual(['cursor.json']); // no temporary left behind
  });

  it('a damaged file is an error, never a silent restart from scratch', () => {
    const file = path.join(folder, 'cursor.json');
    fs.writeFileSync(file, '{"version":1,"lastExec');
    expect(() => readCursor(file)).toThrow(expect.objectContaining({ code: 'CURSOR_UNREADABLE' }));
    fs.writeFileSync(file, JSON.stringify({ version: 1, lastExecuted: -3 }));
    expect(() => readCursor(file)).toThrow(/no valid lastExecuted/);
    fs.writeFileSync(file, JSON.stringify({ version: 2, lastExecuted: 3 }));
    expect(() => readCursor(file)).toThrow(/no valid lastExecuted/);
  });
});
