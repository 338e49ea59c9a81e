import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Where the backends put collected outputs; the CLI writes a folder, the server a blob store. */
export interface OutputSink {
  /** Stores one output; resolves with its size and sha256 once it is fully stored. */
  store(
    output: { name: string; path: string; kind: 'declared' | 'changed' },
    body: Readable
  ): Promise<{ size: number; sha256: string }>;
}

/** Counts and hashes what flows through, without holding it. */
export class HashingCounter extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');

  _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: () => void
  ): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    this.push(chunk);
    callback();
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Writes declared outputs to `DIR/<name>` and other changed files to `DIR/changed/<path>`, never
 * outside DIR whatever the package calls its files: names come from an untrusted package.
 */
export class DirectorySink implements OutputSink {
  constructor(private readonly dir: string) {}

  async store(
    output: { name: string; path: string; kind: 'declared' | 'changed' },
    body: Readable
  ): Promise<{ size: number; sha256: string }> {
    const target = this.targetOf(output);
    await mkdir(dirname(target), { recursive: true });
    const partial = `${target}.partial-${process.pid}`;
    const counter = new HashingCounter();
    try {
      await pipeline(
        body,
        counter,
        createWriteStream(partial, { flags: 'wx' })
      );
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { size: counter.size, sha256: counter.digest() };
  }

  /** The file an output goes to; throws when it would leave the folder. */
  targetOf(output: {
    name: string;
    path: string;
    kind: 'declared' | 'changed';
  }): string {
    const root = resolve(this.dir);
    const target =
      output.kind === 'declared'
        ? join(root, safeName(output.name))
        : join(root, 'changed', posix.normalize('/' + output.path).slice(1));
    const inside = relative(root, target);
    if (
      inside === '' ||
      inside.startsWith('..') ||
      inside.split(sep).includes('..')
    ) {
      throw new Error(
        `The output "${output.name}" would be written outside ${root}.`
      );
    }
    return target;
  }
}

/** A declared output's name as a file name: no separators, no dot-only names. */
function safeName(name: string): string {
  const cleaned = name.replace(/[/\\\0]/g, '_');
  return cleaned === '' || cleaned === '.' || cleaned === '..'
    ? `_${cleaned}`
    : cleaned;
}
