/**
 * `reproserver fetch URL|DOI [--to DIR] [--file NAME] [--json]`: downloads a package from a DOI,
 * a data repository's record or an https URL into a folder, as the API's imports do
 * (`fetch/importer.ts`), checks it with the package reader (in a reader process, with the
 * server's limits), and prints its path and sha256. A record with several packages is listed, and
 * the command asks for `--file`. Nothing is registered anywhere: the file is the result. A file of
 * DIR with the same sha256 is the result too: the command says so and writes no second copy.
 */
import { mkdir, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../config';
import { formatBytes } from '../contract/bytes';
import { errorMessage } from '../describe';
import { isDomainError } from '../errors';
import { httpLimitsFromEnv } from '../fetch/http';
import { importPackage, notAPackage } from '../fetch/importer';
import type { DownloadProgress } from '../fetch/progress';
import { sameFileFinder } from '../fetch/same-file';
import { servicesFromEnv } from '../fetch/services';
import { parseSource } from '../fetch/source';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import { argsOrExit, lastValues } from './args';
import { FETCH_SPEC } from './usage';

/** `12.0 MiB of 40.0 MiB, 5.1 MiB/s, 6 s left`. */
export function progressLine(progress: DownloadProgress): string {
  const parts = [
    progress.total !== null
      ? `${formatBytes(progress.bytes)} of ${formatBytes(progress.total)}`
      : formatBytes(progress.bytes)
  ];
  if (progress.rate !== null) {
    parts.push(`${formatBytes(progress.rate)}/s`);
  }
  if (progress.etaSeconds !== null) {
    parts.push(`${progress.etaSeconds} s left`);
  }
  return parts.join(', ');
}

export async function fetchCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(FETCH_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const options = lastValues(parsed.flags);
  if (parsed.positionals.length !== 1) {
    process.stderr.write(
      `reproserver fetch: give one URL or DOI.\n\n${FETCH_SPEC.usage}\n`
    );
    return 2;
  }
  let setup;
  try {
    const services = servicesFromEnv();
    setup = {
      services,
      limits: httpLimitsFromEnv(),
      config: loadConfig({}),
      source: parseSource(parsed.positionals[0], services)
    };
  } catch (error) {
    process.stderr.write(`reproserver fetch: ${errorMessage(error)}\n`);
    return 2;
  }
  const folder = resolve(options.to ?? '.');
  await mkdir(folder, { recursive: true });
  const tty = process.stderr.isTTY === true;
  let shown = false;
  const reader = new PackageReader(readerOptionsOf(setup.config));
  try {
    const realFolder = await realpath(folder);
    const outcome = await importPackage({
      source: setup.source,
      file: options.file,
      folder: realFolder,
      known: sameFileFinder(realFolder),
      maxBytes: setup.config.maxUploadBytes,
      services: setup.services,
      limits: setup.limits,
      onProgress: progress => {
        if (tty) {
          process.stderr.write(`\r\u001b[K${progressLine(progress)}`);
          shown = true;
        }
      },
      onPhase: phase => {
        if (phase === 'checking' && shown) {
          process.stderr.write('\n');
          shown = false;
        }
      },
      check: async (path, name) => {
        try {
          await reader.readPackage(path, { sha256: false }, name);
        } catch (error) {
          throw notAPackage(name, errorMessage(error));
        }
      }
    });
    if (shown) {
      process.stderr.write('\n');
    }
    if (outcome.kind === 'choose') {
      process.stderr.write(
        `reproserver fetch: the record holds ${outcome.candidates.length} packages; choose one with --file NAME:\n${outcome.candidates
          .map(
            c =>
              `  ${c.name}${c.size !== null ? `  (${formatBytes(c.size)})` : ''}`
          )
          .join('\n')}\n`
      );
      return 3;
    }
    if (outcome.reused) {
      process.stderr.write(
        `reproserver fetch: ${outcome.path} already holds this package (same sha256); nothing was written.\n`
      );
    }
    if (options.json !== undefined) {
      process.stdout.write(
        `${JSON.stringify({ path: outcome.path, name: outcome.name, sha256: outcome.sha256, size: outcome.size, reused: outcome.reused })}\n`
      );
    } else {
      process.stdout.write(
        `${outcome.path}\nsha256 ${outcome.sha256}, ${formatBytes(outcome.size)}\n`
      );
    }
    return 0;
  } catch (error) {
    if (shown) {
      process.stderr.write('\n');
    }
    process.stderr.write(
      `reproserver fetch: ${isDomainError(error) ? `${error.message} (${error.code})` : errorMessage(error)}\n`
    );
    return 1;
  } finally {
    reader.close();
  }
}
