/**
 * What a TypeScript source imports, read as text: for the tests that hold the house's layering
 * (api/ at the edge, `reproserver/contract` browser-safe). Regular expressions, not a parser: the
 * sources are Prettier-formatted, and each test checks the cases it relies on.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every `.ts` file under a folder. */
export function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap(entry => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      return sourceFiles(path);
    }
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Whether `import {…}`/`export {…}` names only types (`{ type A, type B }`): erased when compiled. */
function namesOnlyTypes(names: string): boolean {
  const braced = /^\{([^}]*)\}$/.exec(names.trim());
  return (
    braced !== null &&
    braced[1]
      .split(',')
      .map(name => name.trim())
      .filter(name => name !== '')
      .every(name => name.startsWith('type '))
  );
}

/**
 * The module specifiers of a file: static imports and exports, side-effect imports, `import()`
 * and `require()`. With `runtimeOnly`, without the type-only ones (`import type`, `export type`,
 * `import { type A }`), which vanish at compile time.
 */
export function importSpecifiers(
  text: string,
  options: { runtimeOnly?: boolean } = {}
): string[] {
  const found: string[] = [];
  const statement =
    /\b(?:import|export)\s+(type\s+)?([^'"`;]*?)\s*\bfrom\s*['"]([^'"]+)['"]/g;
  for (const match of text.matchAll(statement)) {
    const typeOnly = match[1] !== undefined || namesOnlyTypes(match[2]);
    if (!options.runtimeOnly || !typeOnly) {
      found.push(match[3]);
    }
  }
  for (const pattern of [
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g
  ]) {
    found.push(...[...text.matchAll(pattern)].map(match => match[1]));
  }
  return found;
}
