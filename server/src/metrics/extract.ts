/**
 * A run's metric values, from what it produced: its log (the experiment's lines, read once for
 * every log metric) and its outputs (each one read once for all its metrics). Everything is
 * streamed and bounded (`METRIC_BOUNDS`); a metric the run did not produce is null, never an
 * error: a run that failed halfway still has a row in the results table.
 */
import type { Readable } from 'node:stream';
import type { MetricSpec, MetricValues } from '../contract/schemas/metrics';
import { METRIC_BOUNDS } from './bounds';
import { csvValues, type CsvPick } from './csv-output';
import { jsonValues } from './json-output';
import { parseJsonPath, type PathSegment } from './json-path';
import { readLogLines } from './log-lines';
import { pairValues } from './log-pair';
import { parseMetricNumber } from './numbers';
import { RegexRunner } from './regex-runner';

export interface RunSources {
  /** The run's event log (`EventLogs.pathOf`). */
  eventLogPath: string;
  /** An output by its name or path in the run, streamed; undefined when the run has none. */
  openOutput(
    name: string
  ): Promise<{ body: Readable; size: number } | undefined>;
}

export interface ExtractOptions {
  /** The time all of a run's regular expressions may take together; default `regexMs`. */
  regexTimeMs?: number;
}

type LogSpec = Extract<MetricSpec, { source: 'log-pair' | 'log-regex' }>;
type CsvSpec = Extract<MetricSpec, { source: 'csv' }>;
type JsonSpec = Extract<MetricSpec, { source: 'json' }>;

export async function extractMetrics(
  specs: readonly MetricSpec[],
  sources: RunSources,
  options: ExtractOptions = {}
): Promise<MetricValues> {
  const values: MetricValues = {};
  for (const spec of specs) {
    values[spec.name] = null;
  }
  const logSpecs = specs.filter(
    (s): s is LogSpec => s.source === 'log-pair' || s.source === 'log-regex'
  );
  if (logSpecs.length > 0) {
    Object.assign(values, await logValues(logSpecs, sources, options));
  }
  for (const [output, group] of byOutput(
    specs.filter((s): s is CsvSpec => s.source === 'csv')
  )) {
    const found = await withOutput(sources, output, body =>
      csvValues(body.body, group as CsvPick[])
    );
    group.forEach((spec, i) => (values[spec.name] = found?.[i] ?? null));
  }
  for (const [output, group] of byOutput(
    specs.filter((s): s is JsonSpec => s.source === 'json')
  )) {
    const paths = group.map(s => parseJsonPath(s.path));
    const valid = paths.filter((p): p is PathSegment[] => Array.isArray(p));
    const found = await withOutput(sources, output, body =>
      jsonValues(body.body, body.size, valid)
    );
    let next = 0;
    group.forEach((spec, i) => {
      values[spec.name] = Array.isArray(paths[i])
        ? (found?.[next++] ?? null)
        : null;
    });
  }
  return values;
}

async function logValues(
  specs: LogSpec[],
  sources: RunSources,
  options: ExtractOptions
): Promise<MetricValues> {
  const values: MetricValues = {};
  const regexes = specs.filter(s => s.source === 'log-regex');
  const runner =
    regexes.length > 0
      ? new RegexRunner(
          regexes.map(s => ({ pattern: s.pattern, pick: s.pick ?? 'last' })),
          options.regexTimeMs ?? METRIC_BOUNDS.regexMs
        )
      : undefined;
  const pairs = specs.filter(s => s.source === 'log-pair');
  const seen = new Set<string>();
  try {
    await readLogLines(sources.eventLogPath, {
      maxLineChars: METRIC_BOUNDS.lineBytes,
      batchChars: 256 * 1024,
      onLines: async lines => {
        for (const spec of pairs) {
          if (spec.pick === 'first' && seen.has(spec.name)) {
            continue;
          }
          const key = spec.key ?? spec.name;
          for (const line of lines) {
            const found = pairValues(line, key);
            if (found.length > 0) {
              values[spec.name] =
                spec.pick === 'first' ? found[0] : found[found.length - 1];
              seen.add(spec.name);
              if (spec.pick === 'first') {
                break;
              }
            }
          }
        }
        await runner?.feed(lines);
      }
    });
  } finally {
    const texts = (await runner?.finish()) ?? [];
    regexes.forEach((spec, i) => {
      const text = texts[i];
      values[spec.name] =
        text === null || text === undefined ? null : parseMetricNumber(text);
    });
  }
  return values;
}

function byOutput<S extends { output: string }>(specs: S[]): Map<string, S[]> {
  const groups = new Map<string, S[]>();
  for (const spec of specs) {
    groups.set(spec.output, [...(groups.get(spec.output) ?? []), spec]);
  }
  return groups;
}

/** Reads an output, if the run has it; a stream that fails midway gives undefined. */
async function withOutput<T>(
  sources: RunSources,
  name: string,
  read: (output: { body: Readable; size: number }) => Promise<T>
): Promise<T | undefined> {
  const output = await sources.openOutput(name).catch(() => undefined);
  if (!output) {
    return undefined;
  }
  try {
    return await read(output);
  } catch {
    return undefined;
  } finally {
    output.body.destroy();
  }
}
