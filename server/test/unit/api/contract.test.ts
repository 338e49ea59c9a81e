/**
 * The contract's types come from its schemas: the panel imports them from `contract/wire.ts`,
 * which must stay free of TypeBox at run time (type-only imports), and the schemas of types
 * declared elsewhere are checked at compile time to describe them exactly.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Same } from '../../../src/contract/schemas/common';

describe('the contract', () => {
  it('gives the panel types only: contract/wire.ts imports and re-exports nothing at run time', () => {
    const text = readFileSync(
      resolve(__dirname, '../../../src/contract/wire.ts'),
      'utf8'
    );
    const statements = [
      ...text.matchAll(/^(import|export)\b[^;]*?\bfrom\s*'[^']+';/gms)
    ].map(m => m[0]);
    expect(statements.length).toBeGreaterThan(5);
    expect(statements.filter(s => !/^(import|export) type\b/.test(s))).toEqual(
      []
    );
  });

  it('tells equal types from different ones (checked by the compiler)', () => {
    const same: Same<{ a?: string[] }, { a?: string[] }> = true;
    // @ts-expect-error: a different type is not the same
    const different: Same<{ a: string }, { a: number }> = true;
    // @ts-expect-error: nor is a narrower one
    const narrower: Same<'a', 'a' | 'b'> = true;
    expect([same, different, narrower]).toEqual([true, true, true]);
  });
});
