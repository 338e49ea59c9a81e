/**
 * The API layer is the edge: it imports the services, never the other way round. Services and the
 * workspace layer throw domain errors (`src/errors.ts`) and build the wire shapes of
 * `src/contract/`; only `api/` chooses HTTP statuses. This test reads every source file and fails
 * when one outside `api/` imports from it (`cli/serve.ts`, which starts the server, may).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { importSpecifiers, sourceFiles } from '../../helpers/source-imports';

const SRC = resolve(__dirname, '../../../src');
const API = join(SRC, 'api');
const ALLOWED = new Set([join(SRC, 'cli', 'serve.ts')]);

/** The relative module specifiers of a file, type-only imports included (they couple too). */
function relativeSpecifiers(text: string): string[] {
  return importSpecifiers(text).filter(specifier => specifier.startsWith('.'));
}

function isInside(folder: string, path: string): boolean {
  return path === folder || path.startsWith(folder + sep);
}

describe('the API layer is imported only by itself and the serve command', () => {
  it('finds the imports it checks', () => {
    expect(
      relativeSpecifiers(
        [
          "import { a } from '../api/errors';",
          "import type {\n  B\n} from './wire';",
          "export * from '../contract/wire';",
          "import '../side-effect';",
          "const c = await import('../api/server');",
          "const d = require('../api/token');",
          "import { e } from 'node:fs';"
        ].join('\n')
      )
    ).toEqual([
      '../api/errors',
      './wire',
      '../contract/wire',
      '../side-effect',
      '../api/server',
      '../api/token'
    ]);
  });

  it('no module outside api/ imports from api/', () => {
    const offenders: string[] = [];
    const files = sourceFiles(SRC).filter(
      file => !isInside(API, file) && !ALLOWED.has(file)
    );
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      for (const specifier of relativeSpecifiers(readFileSync(file, 'utf8'))) {
        if (isInside(API, resolve(dirname(file), specifier))) {
          offenders.push(`${relative(SRC, file)} imports ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
