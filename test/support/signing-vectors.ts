/**
 * The public v1 signing vectors (made with an independent implementation):
 * their shape, and the committed copy, test/fixtures/signing-v1.json.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface SigningVector {
  secret: string;
  subscription_id: string;
  sequence_number: number;
  generated_at: number;
  symbol: string;
  order_type: number;
  volume: number;
  price: number;
  payload: string;
  signature: string;
}

export interface SigningVectorFile {
  format: string;
  cases: SigningVector[];
}

export const signingVectorsCopyPath = path.resolve(__dirname, '../fixtures/signing-v1.json');

/** A vector file's cases; throws when it has none. */
export function loadSigningVectors(file: string = signingVectorsCopyPath): SigningVectorFile {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as SigningVectorFile;
  if (!Array.isArray(parsed.cases) || parsed.cases.length === 0) throw new Error(`${file}: no cases`);
  return parsed;
}
