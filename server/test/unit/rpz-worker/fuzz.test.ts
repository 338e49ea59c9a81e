/**
 * Fuzzer of the package reader, through the reader processes the server uses: mutants of real
 * reprozip-made packages (tar header fields, names, type flags, links, pax and GNU records,
 * config.yml, the trace database, version, gzip framing, raw bytes; see fuzz/mutations.ts). Each
 * mutant must be refused with a clean `RpzError` or read into a well-formed model, within the
 * deadline, without crashing the reader, while this process's event loop stays responsive.
 *
 * Deterministic from a seed, printed at start:
 *   REPROSERVER_FUZZ_SEED=N          replay a run (same seeds in examples/ and .state/examples)
 *   REPROSERVER_FUZZ_CASE=I          replay case I of that run alone
 *   REPROSERVER_FUZZ_SECONDS=S       fuzz for S seconds (default 45)
 * A failing case is written to $TMPDIR/reproserver-fuzz/ and its path printed with the seed.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpzError, type PackageModel } from '../../../src/rpz';
import { PackageReader } from '../../../src/rpz/worker';
import { tempFolder } from '../../helpers/synthetic-rpz';
import {
  MAX_LAG_MS,
  bundleReaderScriptBeforeProbing,
  probeEventLoopLag
} from './event-loop-lag';
import { mutate } from './fuzz/mutations';
import { Rng } from './fuzz/rng';
import { seedFiles, seedsOf } from './fuzz/seeds';

const SEED =
  process.env.REPROSERVER_FUZZ_SEED !== undefined
    ? Number(process.env.REPROSERVER_FUZZ_SEED) >>> 0
    : randomInt(2 ** 32 - 1);
const SECONDS = Number(process.env.REPROSERVER_FUZZ_SECONDS ?? 45);
const ONLY =
  process.env.REPROSERVER_FUZZ_CASE !== undefined
    ? Number(process.env.REPROSERVER_FUZZ_CASE)
    : undefined;
/** A read of these few-MiB packages takes well under a second; a hang is a finding. */
const DEADLINE_SECONDS = 10;
/** Stop after this many findings: each is written out to be replayed. */
const MAX_FINDINGS = 3;
/** Refusals that mean the reader misbehaved, not that the package is bad. */
const READER_FAILURES = [
  'read-timeout',
  'read-memory',
  'read-failed',
  'unreadable'
];

jest.setTimeout((SECONDS + 120) * 1000);

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function settle(work: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}

/** What is wrong with an outcome; null when it is a clean refusal or a well-formed read. */
function problemOf(
  outcome: Outcome,
  check: (value: unknown) => boolean
): string | null {
  if (!outcome.ok) {
    const error = outcome.error;
    if (!(error instanceof RpzError)) {
      return `not an RpzError: ${String(error)}`;
    }
    if (READER_FAILURES.includes(error.code)) {
      return `${error.code}: ${error.message}`;
    }
    if (error.message.trim() === '') {
      return `${error.code} without a sentence`;
    }
    return null;
  }
  return check(outcome.value)
    ? null
    : `malformed result ${JSON.stringify(outcome.value).slice(0, 200)}`;
}

function wellFormedModel(value: unknown): boolean {
  const model = value as PackageModel;
  return (
    (model.format === 1 || model.format === 2) &&
    Array.isArray(model.runs) &&
    model.runs.every(
      run =>
        Array.isArray(run.argv) && run.argv.every(a => typeof a === 'string')
    ) &&
    Array.isArray(model.files) &&
    Array.isArray(model.warnings) &&
    typeof JSON.stringify(model) === 'string'
  );
}

function wellFormedTotals(value: unknown): boolean {
  const totals = value as { entries: number; bytes: number };
  return (
    Number.isSafeInteger(totals.entries) &&
    totals.entries >= 0 &&
    Number.isSafeInteger(totals.bytes) &&
    totals.bytes >= 0
  );
}

it('refuses cleanly or reads every mutant of real packages, in time, without a stall', async () => {
  const files = seedFiles();
  expect(files.length).toBeGreaterThan(0);
  const seeds = files.flatMap(seedsOf);
  console.log(
    `fuzz: seed ${SEED}, ${SECONDS} s, ${seeds.length} seeds from ${files.length} reprozip-made packages; ` +
      `replay: REPROSERVER_FUZZ_SEED=${SEED} (one case: REPROSERVER_FUZZ_CASE=I)`
  );
  bundleReaderScriptBeforeProbing();
  const folder = tempFolder();
  const reader = new PackageReader({
    timeoutSeconds: DEADLINE_SECONDS,
    processes: 1,
    scratchDir: join(folder.dir, 'scratch')
  });
  const findings: string[] = [];
  const codes = new Map<string, number>();
  const count = (key: string): void => {
    codes.set(key, (codes.get(key) ?? 0) + 1);
  };
  const end = Date.now() + SECONDS * 1000;
  let cases = 0;
  let makingMs = 0;
  let readingMs = 0;
  try {
    for (let index = ONLY ?? 0; ; index++) {
      if (ONLY !== undefined ? index > ONLY : Date.now() >= end) {
        break;
      }
      const making = performance.now();
      const rng = Rng.forCase(SEED, index);
      const seed = rng.pick(seeds);
      const mutant = mutate(rng, seed);
      const path = folder.write('case.rpz', mutant.bytes);
      makingMs += performance.now() - making;
      const reading = performance.now();
      const lag = probeEventLoopLag();
      const read = await settle(
        reader.readPackage(path, { sha256: false }, `case-${index}.rpz`)
      );
      const scan =
        read.ok || mutant.touchesData
          ? await settle(reader.scanEntries(path, `case-${index}.rpz`))
          : null;
      const worstLag = lag.stop();
      readingMs += performance.now() - reading;
      cases++;
      count(read.ok ? 'read' : ((read.error as RpzError).code ?? 'other'));
      const problems = [
        problemOf(read, wellFormedModel),
        scan && problemOf(scan, wellFormedTotals),
        worstLag > MAX_LAG_MS
          ? `event loop stalled ${Math.round(worstLag)} ms`
          : null
      ].filter((p): p is string => p !== null);
      if (problems.length > 0) {
        const dir = join(tmpdir(), 'reproserver-fuzz');
        mkdirSync(dir, { recursive: true });
        const saved = join(dir, `seed-${SEED}-case-${index}.rpz`);
        writeFileSync(saved, mutant.bytes);
        const finding =
          `case ${index} (${seed.name}; ${mutant.what.join('; ')}): ${problems.join('; ')}\n` +
          `  input: ${saved}\n  replay: REPROSERVER_FUZZ_SEED=${SEED} REPROSERVER_FUZZ_CASE=${index}`;
        console.error(`fuzz finding: ${finding}`);
        findings.push(finding);
        if (findings.length >= MAX_FINDINGS) {
          break;
        }
      }
    }
  } finally {
    reader.close();
    folder.cleanup();
  }
  console.log(
    `fuzz: seed ${SEED}: ${cases} cases (making them ${Math.round(makingMs / 1000)} s, reading ${Math.round(readingMs / 1000)} s); ${[
      ...codes
    ]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`
  );
  expect(findings).toEqual([]);
  expect(cases).toBeGreaterThan(0);
});
