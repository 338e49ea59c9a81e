/**
 * `reproserver/contract` is the panel's one entry into the server's code, and the panel runs in a
 * browser: nothing reachable from the entry may import a Node.js built-in or a package at run
 * time (type-only imports vanish at compile time and are fine). This test follows the entry's
 * relative imports through the sources and fails on the first run-time import that is not one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { importSpecifiers } from '../../helpers/source-imports';

const SRC = resolve(__dirname, '../../../src');
const ENTRY = join(SRC, 'contract', 'index.ts');

/** Module specifiers a file imports or re-exports at run time. */
function runtimeSpecifiers(text: string): string[] {
  return importSpecifiers(text, { runtimeOnly: true });
}

function resolveSource(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate)) {
      return candidate;
    }
  }
  throw new Error(`${from}: cannot resolve ${specifier}`);
}

/** Every source file the entry reaches at run time, and the non-relative imports found. */
function reach(entry: string): { files: Set<string>; outside: string[] } {
  const files = new Set<string>();
  const outside: string[] = [];
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) {
      continue;
    }
    files.add(file);
    for (const specifier of runtimeSpecifiers(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) {
        pending.push(resolveSource(file, specifier));
      } else {
        outside.push(`${file.slice(SRC.length + 1)} imports ${specifier}`);
      }
    }
  }
  return { files, outside };
}

describe('the panel entry, reproserver/contract', () => {
  it('tells run-time imports from type-only ones', () => {
    expect(
      runtimeSpecifiers(
        [
          "import type { A } from 'node:fs';",
          "import { type B, type C } from './b';",
          "import { type D, e } from './e';",
          "export * from './f';",
          "export type { G } from './g';",
          "export { h, type I } from './h';",
          "import 'side-effect';",
          "const j = require('node:path');"
        ].join('\n')
      )
    ).toEqual(['./e', './f', './h', 'side-effect', 'node:path']);
  });

  it('reaches only browser-safe modules of the server', () => {
    const { files, outside } = reach(ENTRY);
    expect(outside).toEqual([]);
    // The walk did follow the entry's re-exports (a broken walk would pass vacuously).
    expect(files.size).toBeGreaterThan(5);
    expect([...files].some(f => f.endsWith(join('runs', 'summary.ts')))).toBe(
      true
    );
  });

  it('is the only entry the package offers', () => {
    const manifest = JSON.parse(
      readFileSync(resolve(SRC, '..', 'package.json'), 'utf8')
    );
    expect(Object.keys(manifest.exports).sort()).toEqual([
      '.',
      './contract',
      './package.json'
    ]);
    expect(manifest.exports['./contract'].default).toBe(
      './dist/contract/index.js'
    );
  });
});
