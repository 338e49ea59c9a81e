import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A small package made by the real reprozip and committed in `examples/`: there without setup. */
export const COMMITTED_EXAMPLE = resolve(
  __dirname,
  '..',
  '..',
  '..',
  'examples',
  'shell-pipeline.rpz'
);

/** Where the test command put the packages made by the real reprozip, with their manifests. */
export const EXAMPLES_DIR =
  process.env.REPROSERVER_EXAMPLES_DIR ??
  resolve(__dirname, '..', '..', '..', '.state', 'examples');

/** One run as the manifest describes it (`scripts/examples/manifest.py` writes the format). */
export interface ManifestRun {
  id: string;
  argv: string[];
  stdout: string[];
  environ?: Record<string, string>;
  nonroot?: boolean;
}

export interface ManifestFile {
  text: string;
  sha256: string;
}

export interface ManifestVariant {
  id: string;
  description: string;
  runs?: {
    run: number;
    argv?: string[];
    environ?: Record<string, string>;
    stdout?: string[];
  }[];
  inputs?: Record<string, ManifestFile>;
  outputs: Record<string, ManifestFile>;
}

export interface Manifest {
  name: string;
  runs: ManifestRun[];
  /** The inputs' recorded contents, by input name. */
  inputs?: Record<string, ManifestFile>;
  outputs: Record<string, ManifestFile>;
  variants?: ManifestVariant[];
  /** Outputs whose bytes differ between identical runs (the determinism check's example). */
  varying_outputs?: string[];
  package: { file: string; runs: { uid: number; gid: number }[] };
}

/** Every example package with its manifest; throws when there are none (nothing would be tested). */
export function examples(): {
  name: string;
  rpz: string;
  manifest: Manifest;
}[] {
  const names = readdirSync(EXAMPLES_DIR)
    .filter(file => file.endsWith('.rpz'))
    .map(file => file.slice(0, -'.rpz'.length))
    .sort();
  if (names.length === 0) {
    throw new Error(
      `No example packages in ${EXAMPLES_DIR}: run scripts/make-examples.sh.`
    );
  }
  return names.map(name => ({
    name,
    rpz: join(EXAMPLES_DIR, `${name}.rpz`),
    manifest: JSON.parse(
      readFileSync(join(EXAMPLES_DIR, `${name}.json`), 'utf8')
    ) as Manifest
  }));
}

export function example(name: string): {
  name: string;
  rpz: string;
  manifest: Manifest;
} {
  const found = examples().find(e => e.name === name);
  if (!found) {
    throw new Error(
      `The example package ${name} is missing from ${EXAMPLES_DIR}.`
    );
  }
  return found;
}
