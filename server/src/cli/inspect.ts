/**
 * `reproserver inspect PACKAGE [--json]`: describes a ReproZip package; with `--json` it prints the
 * package model (the same wire type as the API).
 *
 * It reads the package in its own process, unlike the server, which reads in reader processes so
 * that nothing a package holds is parsed on the event loop that serves everyone. A one-shot command
 * has no one else to serve, and a second Node.js process would double its start-up time. It keeps
 * the server's deadline (REPROSERVER_READ_TIMEOUT_SECONDS, more for big packages) and its parsers'
 * bounds (`READ_LIMITS`); a package that passes the deadline is refused and the command exits.
 *
 * What it read is remembered (`inspect-cache.ts`), so that asking again about the same, unchanged
 * file answers without reading it; `--no-cache` reads afresh and remembers nothing. The reader and
 * its parsers are loaded only when the package is read.
 */
import { statSync, type BigIntStats } from 'node:fs';
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import { formatBytes } from '../contract/bytes';
import { errorMessage } from '../describe';
import { RpzError, inPackage } from '../rpz/errors';
import type { PackageModel } from '../rpz/model';
import { SERVER_VERSION } from '../version';
import { argsOrExit } from './args';
import { InspectCache, inspectCacheDir } from './inspect-cache';
import { directStderr, directStdout } from './stdio';
import type * as InspectRead from './inspect-read';
import { INSPECT_SPEC, INSPECT_USAGE as USAGE } from './usage';

/** Where the command writes; replaceable for tests. */
export interface InspectIo {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'>;
}

/** Words a shell takes as written, in ASCII and in any script. */
const SHELL_SAFE_ASCII = /^[A-Za-z0-9_\-+=/:.,%@]+$/;
const SHELL_SAFE = /^[\p{L}\p{N}_\-+=/:.,%@]+$/u;

/** Quotes an argv item for display the way a POSIX shell would need it. */
export function shellQuote(word: string): string {
  // The Unicode classes cost V8 about 3 ms to compile, a tenth of a first `inspect`: only a word
  // with other characters than ASCII needs them.
  const safe =
    SHELL_SAFE_ASCII.test(word) ||
    (/[^\x00-\x7f]/.test(word) && SHELL_SAFE.test(word));
  return safe ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function runList(indexes: number[], model: PackageModel): string {
  return indexes.map(i => `${i} (${model.runs[i]?.id ?? '?'})`).join(', ');
}

/** The human summary of a model. */
export function formatSummary(model: PackageModel, name: string): string {
  const lines: string[] = [];
  const containers: Record<PackageModel['container'], string> = {
    'v1-gzip-tar': 'gzip tar',
    'v1-tar': 'plain tar',
    'v2-tar': 'plain tar with DATA.tar.gz',
    'v2-gzip-tar': 'gzip tar with DATA.tar.gz'
  };
  lines.push(`Package:      ${name}`);
  lines.push(
    `Format:       ReproZip package version ${model.format} (${containers[model.container]}` +
      `${model.configVersion !== null ? `, config ${model.configVersion}` : ''})`
  );
  lines.push(
    `Size:         ${formatBytes(model.size)}${model.sha256 !== null ? `, sha256 ${model.sha256}` : ''}`
  );
  const first = model.runs[0];
  if (first !== undefined) {
    const distribution = first.distribution
      ? `${first.distribution.name} ${first.distribution.version}`.trim()
      : 'unknown distribution';
    lines.push(
      `Distribution: ${distribution}${first.architecture ? ` (${first.architecture})` : ''}`
    );
  }
  lines.push('', `Runs (${model.runs.length}):`);
  model.runs.forEach((run, i) => {
    const ending =
      run.signal !== null
        ? `killed by signal ${run.signal}`
        : run.exitcode !== null
          ? `exit code ${run.exitcode}`
          : 'exit unknown';
    lines.push(`  ${i} ${run.id}: ${run.argv.map(shellQuote).join(' ')}`);
    lines.push(
      `      in ${run.workingdir} as uid ${run.uid}, gid ${run.gid}; ${ending}`
    );
  });
  const inputs = model.files.filter(f => f.readBy.length > 0);
  const outputs = model.files.filter(f => f.writtenBy.length > 0);
  const unused = model.files.filter(
    f => f.readBy.length === 0 && f.writtenBy.length === 0
  );
  lines.push('', `Inputs (${inputs.length}):`);
  for (const f of inputs) {
    lines.push(
      `  ${f.name}: ${f.path} (read by run ${runList(f.readBy, model)})`
    );
  }
  lines.push('', `Outputs (${outputs.length}):`);
  for (const f of outputs) {
    lines.push(
      `  ${f.name}: ${f.path} (written by run ${runList(f.writtenBy, model)})`
    );
  }
  for (const f of unused) {
    lines.push(`  (neither read nor written) ${f.name}: ${f.path}`);
  }
  const packed = model.packages.filter(p => p.packfiles).length;
  lines.push(
    '',
    `Packages:     ${model.packages.length} (${packed} packed, ${model.packages.length - packed} to install)`,
    `Other files:  ${model.otherFiles.length}`
  );
  if (model.trace.status === 'ok') {
    const t = model.trace.runs;
    lines.push(
      `Trace:        ${t.reduce((n, r) => n + r.processes, 0)} processes, ` +
        `${t.reduce((n, r) => n + r.programs.length, 0)} programs executed`
    );
  } else {
    lines.push(`Trace:        ${model.trace.status}`);
  }
  if (model.extensions.length > 0) {
    lines.push(`Extensions:   ${model.extensions.join(', ')}`);
  }
  lines.push('', `Warnings (${model.warnings.length}):`);
  for (const warning of model.warnings) {
    lines.push(`  - ${warning}`);
  }
  return lines.join('\n') + '\n';
}

/** Runs `inspect`; returns the exit code (0 ok, 1 bad package, 2 usage). */
export async function inspectCommand(
  args: string[],
  io: InspectIo = { stdout: directStdout, stderr: directStderr }
): Promise<number> {
  const parsed = argsOrExit(INSPECT_SPEC, args, io);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const json = parsed.flags.json !== undefined;
  const useCache = parsed.flags['no-cache'] === undefined;
  if (parsed.positionals.length !== 1) {
    io.stderr.write(
      `reproserver inspect: give exactly one package.\n${USAGE}\n`
    );
    return 2;
  }
  const path = parsed.positionals[0];
  try {
    const model = await modelOf(path, useCache);
    io.stdout.write(
      json ? `${JSON.stringify(model, null, 2)}\n` : formatSummary(model, path)
    );
    return 0;
  } catch (error) {
    const message =
      error instanceof RpzError
        ? error.message
        : `Cannot inspect ${path}: ${errorMessage(error)}`;
    io.stderr.write(`${message}\n`);
    if (error instanceof RpzError && error.code === 'read-timeout') {
      // The read is abandoned, not stopped (a parser has no off switch): once the exit code is
      // set, leave without waiting for it. Unref'd, so a finished process is not held up.
      setTimeout(() => process.exit(1), 0).unref();
    }
    return 1;
  }
}

/** The package's model: remembered, or read (and then remembered). */
async function modelOf(path: string, useCache: boolean): Promise<PackageModel> {
  const label = basename(path);
  let facts: BigIntStats;
  try {
    facts = statSync(path, { bigint: true });
  } catch (error) {
    throw inPackage(error, label);
  }
  if (!facts.isFile()) {
    // A FIFO or a device would block a read that no deadline can take back (the thread pool
    // holds it, and even exiting waits for it).
    throw new RpzError(
      'unreadable',
      `Cannot read the package: it is not a regular file (${label})`
    );
  }
  const cache = useCache
    ? new InspectCache(
        inspectCacheDir(process.env),
        SERVER_VERSION,
        process.env.REPROSERVER_READ_LIMITS ?? ''
      )
    : null;
  const remembered = cache?.lookup(facts);
  if (remembered) {
    return remembered;
  }
  const readStartedNs = BigInt(Date.now()) * 1_000_000n;
  const model = await readPackageOnce(path, facts);
  cache?.remember(path, facts, readStartedNs, model);
  return model;
}

/** Reads the package; the reader and its parsers are loaded here, not for a remembered one. */
function readPackageOnce(
  path: string,
  facts: BigIntStats
): Promise<PackageModel> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readWithDeadline } = require('./inspect-read') as typeof InspectRead;
  return readWithDeadline(path, Number(facts.size));
}
