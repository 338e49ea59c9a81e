/**
 * What both backends do with the files a run leaves: store each within the run's output budget,
 * and say which declared outputs are missing and why. The backends only find the files (in a
 * container's archive, in a sandbox's tree) and hand them over.
 */
import type { Readable } from 'node:stream';
import type { FileOwner, OutputKind, RunEvent } from '../../runs/events';
import type { OutputSink } from '../../runs/output-sink';
import type { RunPlan } from '../../runs/plan';

export class OutputCollector {
  constructor(
    private readonly plan: RunPlan,
    private readonly sink: OutputSink,
    private readonly onEvent: (event: RunEvent) => void
  ) {
    this._budget = plan.limits.outputBytes;
    // Replaced inputs were put there by the user, not made by the run.
    this.declaredPaths = new Set(
      [...plan.outputs, ...plan.inputs].map(file => file.path)
    );
  }

  /** Paths that are not "changed files" even if changed: declared outputs, replaced inputs. */
  readonly declaredPaths: ReadonlySet<string>;

  notCreated(name: string, path: string): void {
    this._missing(name, path, 'The run did not create it.');
  }

  /** A directory, link or device where a file was expected: only declared outputs say so. */
  notAFile(name: string, path: string, kind: OutputKind): void {
    if (kind === 'declared') {
      this._missing(name, path, 'It is not a regular file.');
    }
  }

  /** A file the server may not read (another user's, kept to itself): declared or not. */
  notReadable(name: string, path: string): void {
    this._missing(
      name,
      path,
      "The server may not read it: it belongs to another user of the run's, who kept it to themselves."
    );
  }

  /** Whether a file of this size still fits; says so for the output when it does not. */
  fits(name: string, path: string, size: number): boolean {
    if (size <= this._budget) {
      return true;
    }
    this._missing(
      name,
      path,
      `The outputs reached their size limit of ${this.plan.limits.outputBytes} bytes.`
    );
    return false;
  }

  /** Stores a file that fits, and lists it. */
  async store(
    name: string,
    path: string,
    kind: OutputKind,
    body: Readable,
    owner: () => FileOwner | Promise<FileOwner>
  ): Promise<void> {
    const stored = await this.sink.store({ name, path, kind }, body);
    this._budget -= stored.size;
    this.onEvent({
      type: 'output',
      time: Date.now(),
      name,
      path,
      kind,
      ...stored,
      ...(await owner())
    });
  }

  private _missing(name: string, path: string, reason: string): void {
    this.onEvent({
      type: 'output-missing',
      time: Date.now(),
      name,
      path,
      reason
    });
  }

  private _budget: number;
}
