/**
 * `METADATA/config.yml` → the typed parts of the package model.
 *
 * ReproZip writes the config from templates and reads it with PyYAML (YAML 1.1), and writes
 * `name:` and `path:` of inputs/outputs unquoted. So `name: yes` or `name: 2019` are not strings
 * to a YAML 1.1 reader, and a path containing `: ` does not parse at all. This module therefore:
 * - parses with the *failsafe* schema, where every scalar is a string as written, and converts the
 *   fields it knows to numbers/booleans itself (no `yes` → true surprises in names);
 * - when parsing fails, retries once with unquoted `name:`/`path:` values quoted, and says so in a
 *   warning;
 * - converts old configs (no run ids, per-run `input_files`/`output_files`, capitalised
 *   distribution names) to the current shape;
 * - records unknown keys as warnings and keeps going.
 * Structural problems that leave no usable package (not a mapping, no runs, a run without argv,
 * negative ids) are `invalid-config` errors.
 */
import { RpzError } from './errors';
import { overLimit, readLimits, type ReadLimits } from './limits';
import type { IoFileModel, RunModel, SoftwarePackageModel } from './model';
import { readReproZipYaml } from './reprozip-yaml';
import type * as YamlGeneral from './yaml-general';

const CONFIG = 'METADATA/config.yml';

/** What the config contributes to the package model. */
export interface ParsedConfig {
  configVersion: string | null;
  packId: string | null;
  runs: RunModel[];
  files: IoFileModel[];
  packages: SoftwarePackageModel[];
  otherFiles: string[];
  warnings: string[];
}

type Json = string | null | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const TOP_KEYS = new Set([
  'version',
  'pack_id',
  'runs',
  'inputs_outputs',
  'packages',
  'other_files'
]);
const RUN_KEYS = new Set([
  'id',
  'argv',
  'binary',
  'environ',
  'workingdir',
  'uid',
  'gid',
  'exitcode',
  'signal',
  'architecture',
  'distribution',
  'hostname',
  'system',
  'input_files',
  'output_files'
]);
const IO_KEYS = new Set(['name', 'path', 'read_by_runs', 'written_by_runs']);
const PACKAGE_KEYS = new Set([
  'name',
  'version',
  'size',
  'packfiles',
  'files',
  'meta'
]);

function invalid(message: string): RpzError {
  return new RpzError(
    'invalid-config',
    `${CONFIG} is invalid: ${message}.`,
    CONFIG
  );
}

function isObj(value: Json | undefined): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value for a message: at most 100 characters of it. */
function clip(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}

function describe(value: Json | undefined): string {
  if (value === undefined || value === null || value === '') {
    return 'empty';
  }
  return Array.isArray(value)
    ? 'a list'
    : typeof value === 'object'
      ? 'a mapping'
      : `"${clip(value)}"`;
}

/** Bytes of the strings together, as the kernel counts argv (each with its NUL). */
function byteLength(strings: string[]): number {
  let total = 0;
  for (const item of strings) {
    total += Buffer.byteLength(item) + 1;
  }
  return total;
}

/**
 * A warning list whose `push` keeps at most `max` sentences (see `addWarning`), so the parsing
 * code can push freely: a config of a million unknown keys keeps a thousand warnings, not a
 * million.
 */
function boundedList(max: number): string[] {
  const list: string[] = [];
  const push = Array.prototype.push;
  Object.defineProperty(list, 'push', {
    value: (...messages: string[]): number => {
      for (const message of messages) {
        if (list.length < max) {
          push.call(list, message);
        } else if (list.length === max) {
          push.call(
            list,
            `Further warnings are not listed (limit maxWarnings, ${max}).`
          );
        }
      }
      return list.length;
    }
  });
  return list;
}

/** A scalar as text; null for absent/empty. Throws for collections. */
function text(value: Json | undefined, where: string): string | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'string') {
    throw invalid(`${where} should be a string, not ${describe(value)}`);
  }
  return value;
}

/** YAML 1.1 integers as PyYAML reads them: decimal, 0x…, 0o…/0…, with `_` separators. */
function integer(value: Json | undefined, where: string): number | null {
  const raw = text(value, where);
  if (
    raw === null ||
    raw === '' ||
    raw === '~' ||
    raw.toLowerCase() === 'null'
  ) {
    return null;
  }
  const clean = raw.replace(/_/g, '');
  let result = NaN;
  const match = /^([-+]?)(0x[0-9a-f]+|0o?[0-7]+|0|[1-9][0-9]*)$/i.exec(clean);
  if (match) {
    const digits = match[2].toLowerCase();
    const magnitude = digits.startsWith('0x')
      ? parseInt(digits.slice(2), 16)
      : digits.length > 1 && digits.startsWith('0')
        ? parseInt(digits.replace(/^0o?/, ''), 8)
        : parseInt(digits, 10);
    result = match[1] === '-' ? -magnitude : magnitude;
  }
  if (!Number.isSafeInteger(result)) {
    throw invalid(`${where} should be an integer, not "${clip(raw)}"`);
  }
  return result;
}

function boolean(value: Json | undefined, where: string): boolean | null {
  const raw = text(value, where);
  if (raw === null || raw === '') {
    return null;
  }
  const lower = raw.toLowerCase();
  if (['true', 'yes', 'on', 'y'].includes(lower)) {
    return true;
  }
  if (['false', 'no', 'off', 'n'].includes(lower)) {
    return false;
  }
  throw invalid(`${where} should be true or false, not "${clip(raw)}"`);
}

function list(value: Json | undefined, where: string): Json[] {
  if (value === undefined || value === null || value === '') {
    return [];
  }
  if (!Array.isArray(value)) {
    throw invalid(`${where} should be a list, not ${describe(value)}`);
  }
  return value;
}

function stringList(value: Json | undefined, where: string): string[] {
  return list(value, where).map(
    (item, i) => text(item, `${where}[${i}]`) ?? ''
  );
}

function unknownKeys(
  obj: Obj,
  known: Set<string>,
  where: string,
  warnings: string[]
): void {
  for (const key of Object.keys(obj)) {
    if (!known.has(key)) {
      warnings.push(
        `${CONFIG}: unknown key "${clip(key)}" in ${where} is ignored.`
      );
    }
  }
}

/**
 * The config's YAML under the failsafe schema: read directly when it has the form reprozip writes
 * (`reprozip-yaml.ts`), else by the `yaml` library (`yaml-general.ts`, loaded only then).
 */
function parseYaml(
  source: string,
  warnings: string[],
  limits: ReadLimits
): Json {
  const written = readReproZipYaml(source, limits);
  if (written !== null) {
    return written;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseAnyYaml } = require('./yaml-general') as typeof YamlGeneral;
  return parseAnyYaml(source, warnings, limits);
}

function parseRun(
  raw: Json,
  index: number,
  warnings: string[],
  limits: ReadLimits
): { run: RunModel; inputs: Obj; outputs: Obj } {
  const where = `run ${index}`;
  if (!isObj(raw)) {
    throw invalid(`${where} should be a mapping, not ${describe(raw)}`);
  }
  unknownKeys(raw, RUN_KEYS, where, warnings);
  if (raw.argv === undefined || raw.argv === null) {
    throw invalid(`${where} has no argv`);
  }
  const argv = stringList(raw.argv, `${where} argv`);
  if (argv.length === 0) {
    throw invalid(`${where} has an empty argv`);
  }
  if (argv.length > limits.maxArgs) {
    throw overLimit(
      `arguments in the argv of ${where}`,
      'maxArgs',
      limits.maxArgs,
      CONFIG
    );
  }
  if (byteLength(argv) > limits.maxArgvBytes) {
    throw overLimit(
      `bytes in the argv of ${where}`,
      'maxArgvBytes',
      limits.maxArgvBytes,
      CONFIG
    );
  }
  let binary = text(raw.binary, `${where} binary`);
  if (binary === null || binary === '') {
    warnings.push(
      `${CONFIG}: ${where} has no binary; using argv[0] (${clip(argv[0])}).`
    );
    binary = argv[0];
  }
  let workingdir = text(raw.workingdir, `${where} workingdir`);
  if (workingdir === null || workingdir === '') {
    warnings.push(`${CONFIG}: ${where} has no workingdir; using /.`);
    workingdir = '/';
  }
  const environ: Record<string, string> = {};
  if (raw.environ !== undefined && raw.environ !== null && raw.environ !== '') {
    if (!isObj(raw.environ)) {
      throw invalid(
        `${where} environ should be a mapping, not ${describe(raw.environ)}`
      );
    }
    let bytes = 0;
    for (const [key, value] of Object.entries(raw.environ)) {
      environ[key] = text(value, `${where} environ ${clip(key)}`) ?? '';
      bytes += Buffer.byteLength(key) + Buffer.byteLength(environ[key]) + 2;
      if (bytes > limits.maxEnvironBytes) {
        throw overLimit(
          `bytes in the environment of ${where}`,
          'maxEnvironBytes',
          limits.maxEnvironBytes,
          CONFIG
        );
      }
    }
  }
  const ids: Record<'uid' | 'gid', number> = { uid: 1000, gid: 1000 };
  for (const key of ['uid', 'gid'] as const) {
    const value = integer(raw[key], `${where} ${key}`);
    if (value === null) {
      warnings.push(`${CONFIG}: ${where} has no ${key}; using 1000.`);
    } else if (value < 0) {
      throw invalid(`${where} has a negative ${key} (${value})`);
    } else {
      ids[key] = value;
    }
  }
  const exitcode = integer(raw.exitcode, `${where} exitcode`);
  const signal = integer(raw.signal, `${where} signal`);
  if (exitcode !== null && signal !== null) {
    warnings.push(
      `${CONFIG}: ${where} has both an exit code and a signal; keeping both.`
    );
  }
  const distributionList = list(raw.distribution, `${where} distribution`);
  let distribution: RunModel['distribution'] = null;
  if (distributionList.length > 0) {
    const name = text(distributionList[0], `${where} distribution name`) ?? '';
    const version =
      text(distributionList[1], `${where} distribution version`) ?? '';
    // Before 1.0.16 names came from platform.linux_distribution(): "Ubuntu", "CentOS Linux".
    distribution = { name: name.toLowerCase(), version };
  }
  const systemList = stringList(raw.system, `${where} system`);
  const architecture = text(raw.architecture, `${where} architecture`);
  const id = text(raw.id, `${where} id`);
  const legacy = (key: 'input_files' | 'output_files'): Obj => {
    const value = raw[key];
    if (value === undefined || value === null || value === '') {
      return {};
    }
    if (!isObj(value)) {
      throw invalid(
        `${where} ${key} should be a mapping, not ${describe(value)}`
      );
    }
    return value;
  };
  return {
    run: {
      id: id === null || id === '' ? `run${index}` : id,
      argv,
      binary,
      environ,
      workingdir,
      uid: ids.uid,
      gid: ids.gid,
      exitcode,
      signal,
      architecture:
        architecture === null || architecture === ''
          ? null
          : architecture.toLowerCase(),
      distribution,
      hostname: text(raw.hostname, `${where} hostname`),
      system: systemList.length >= 2 ? [systemList[0], systemList[1]] : null
    },
    inputs: legacy('input_files'),
    outputs: legacy('output_files')
  };
}

function runIndexes(
  value: Json | undefined,
  where: string,
  runCount: number,
  warnings: string[]
): number[] {
  const result = new Set<number>();
  for (const [i, item] of list(value, where).entries()) {
    const index = integer(item, `${where}[${i}]`);
    if (index === null || index < 0 || index >= runCount) {
      warnings.push(
        `${CONFIG}: ${where} refers to run ${clip(String(item))}, which does not exist; ignored.`
      );
    } else {
      result.add(index);
    }
  }
  return [...result].sort((a, b) => a - b);
}

/**
 * The inputs/outputs being collected: duplicate paths are merged and duplicate names renamed like
 * ReproZip does (`name_2`, `name_3`…). Lookups go through maps and run sets, so a config with
 * many entries for one path or one name costs linear time, not quadratic or cubic.
 */
class IoFiles {
  private readonly byPath = new Map<
    string,
    { file: IoFileModel; readBy: Set<number>; writtenBy: Set<number> }
  >();
  private readonly names = new Set<string>();
  /** Per base name, the suffix to try first (all below it are taken). */
  private readonly nextSuffix = new Map<string, number>();
  private added = 0;

  constructor(
    private readonly warnings: string[],
    private readonly limits: ReadLimits
  ) {}

  add(file: IoFileModel): void {
    if (++this.added > this.limits.maxIoFiles) {
      throw overLimit(
        'input and output files in config.yml',
        'maxIoFiles',
        this.limits.maxIoFiles,
        CONFIG
      );
    }
    const samePath = this.byPath.get(file.path);
    if (samePath !== undefined) {
      if (samePath.file.name !== file.name) {
        this.warnings.push(
          `${CONFIG}: "${clip(file.name)}" and "${clip(samePath.file.name)}" name the same path ${clip(file.path)}; merged as "${clip(samePath.file.name)}".`
        );
      }
      file.readBy.forEach(run => samePath.readBy.add(run));
      file.writtenBy.forEach(run => samePath.writtenBy.add(run));
      return;
    }
    let name = file.name;
    if (this.names.has(name)) {
      let n = this.nextSuffix.get(file.name) ?? 2;
      while (this.names.has(`${file.name}_${n}`)) {
        n++;
      }
      this.nextSuffix.set(file.name, n + 1);
      name = `${file.name}_${n}`;
      this.warnings.push(
        `${CONFIG}: two files are named "${clip(file.name)}"; the one at ${clip(file.path)} is renamed "${clip(name)}".`
      );
    }
    this.names.add(name);
    this.byPath.set(file.path, {
      file: { ...file, name },
      readBy: new Set(file.readBy),
      writtenBy: new Set(file.writtenBy)
    });
  }

  /** The files in the order first seen, run lists sorted. */
  list(): IoFileModel[] {
    const byNumber = (a: number, b: number): number => a - b;
    return [...this.byPath.values()].map(({ file, readBy, writtenBy }) => ({
      ...file,
      readBy: [...readBy].sort(byNumber),
      writtenBy: [...writtenBy].sort(byNumber)
    }));
  }
}

function parsePackage(
  raw: Json,
  index: number,
  warnings: string[]
): SoftwarePackageModel {
  const where = `package ${index}`;
  if (!isObj(raw)) {
    throw invalid(`${where} should be a mapping, not ${describe(raw)}`);
  }
  unknownKeys(raw, PACKAGE_KEYS, where, warnings);
  const name = text(raw.name, `${where} name`);
  if (name === null || name === '') {
    throw invalid(`${where} has no name`);
  }
  return {
    name,
    version: text(raw.version, `${where} version`) ?? '',
    size: integer(raw.size, `${where} size`),
    packfiles: boolean(raw.packfiles, `${where} packfiles`) ?? true,
    files: stringList(raw.files, `${where} files`)
  };
}

/** Parses the text of `config.yml`. Throws `invalid-yaml` or `invalid-config`. */
export function parseConfig(
  source: string,
  limits: ReadLimits = readLimits()
): ParsedConfig {
  const warnings = boundedList(limits.maxWarnings);
  const root = parseYaml(source, warnings, limits);
  if (!isObj(root)) {
    throw invalid(
      `the top level should be a mapping, but it is ${describe(root)}`
    );
  }
  if (root.additional_patterns !== undefined) {
    throw invalid(
      'it still has additional_patterns, so it is a configuration for packing, not a packed one'
    );
  }
  unknownKeys(root, TOP_KEYS, 'the top level', warnings);
  const configVersion = text(root.version, 'version');
  if (configVersion === null) {
    warnings.push(`${CONFIG}: no version; reading it as the oldest format.`);
  } else {
    const numeric = /^(\d+)\.(\d+)/.exec(configVersion);
    if (numeric === null) {
      warnings.push(
        `${CONFIG}: version "${clip(configVersion)}" is not a version number; reading it anyway.`
      );
    } else if (
      Number(numeric[1]) > 1 ||
      (Number(numeric[1]) === 1 && Number(numeric[2]) >= 2)
    ) {
      warnings.push(
        `${CONFIG}: version ${clip(configVersion)} is newer than the newest known (1.1); reading it anyway.`
      );
    }
  }
  if (root.runs === undefined || root.runs === null) {
    throw invalid('it has no runs');
  }
  const runList = list(root.runs, 'runs');
  if (runList.length > limits.maxRuns) {
    throw overLimit('runs in config.yml', 'maxRuns', limits.maxRuns, CONFIG);
  }
  const parsedRuns = runList.map((run, i) =>
    parseRun(run, i, warnings, limits)
  );
  if (parsedRuns.length === 0) {
    throw invalid('it has no runs');
  }
  const runs = parsedRuns.map(p => p.run);
  const ids = new Set<string>();
  for (const run of runs) {
    if (ids.has(run.id)) {
      warnings.push(`${CONFIG}: two runs have the id "${clip(run.id)}".`);
    }
    ids.add(run.id);
  }
  const files = new IoFiles(warnings, limits);
  for (const [i, entry] of list(
    root.inputs_outputs,
    'inputs_outputs'
  ).entries()) {
    const where = `inputs_outputs[${i}]`;
    if (!isObj(entry)) {
      throw invalid(`${where} should be a mapping, not ${describe(entry)}`);
    }
    unknownKeys(entry, IO_KEYS, where, warnings);
    const name = text(entry.name, `${where} name`);
    const path = text(entry.path, `${where} path`);
    if (name === null || name === '' || path === null || path === '') {
      throw invalid(`${where} needs both a name and a path`);
    }
    files.add({
      name,
      path,
      readBy: runIndexes(
        entry.read_by_runs,
        `${where} read_by_runs`,
        runs.length,
        warnings
      ),
      writtenBy: runIndexes(
        entry.written_by_runs,
        `${where} written_by_runs`,
        runs.length,
        warnings
      )
    });
  }
  // Before 0.7, each run had its own {name: path} maps.
  parsedRuns.forEach(({ inputs, outputs }, runIndex) => {
    for (const [map, role] of [
      [inputs, 'input_files'],
      [outputs, 'output_files']
    ] as const) {
      for (const [name, value] of Object.entries(map)) {
        const path = text(value, `run ${runIndex} ${role} ${clip(name)}`);
        if (path === null || path === '') {
          warnings.push(
            `${CONFIG}: run ${runIndex} ${role} "${clip(name)}" has no path; ignored.`
          );
          continue;
        }
        files.add({
          name,
          path,
          readBy: role === 'input_files' ? [runIndex] : [],
          writtenBy: role === 'output_files' ? [runIndex] : []
        });
      }
    }
  });
  const packageList = list(root.packages, 'packages');
  if (packageList.length > limits.maxPackages) {
    throw overLimit(
      'software packages in config.yml',
      'maxPackages',
      limits.maxPackages,
      CONFIG
    );
  }
  const packages = packageList.map((p, i) => parsePackage(p, i, warnings));
  const otherFiles = stringList(root.other_files, 'other_files');
  let listed = otherFiles.length;
  for (const pkg of packages) {
    listed += pkg.files.length;
  }
  if (listed > limits.maxListedFiles) {
    throw overLimit(
      'files listed in config.yml (packages and other_files)',
      'maxListedFiles',
      limits.maxListedFiles,
      CONFIG
    );
  }
  return {
    configVersion,
    packId: text(root.pack_id, 'pack_id'),
    runs,
    files: files.list(),
    packages,
    otherFiles,
    warnings: [...warnings]
  };
}
