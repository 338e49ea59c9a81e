import { Signal, type ISignal } from '@lumino/signaling';
import {
  type BuildEvent,
  type OutputRecord,
  type RunEvent,
  type RunEventMessage,
  type RunRecord,
  type RunStatus,
  FINAL_STATUSES,
  applyRunEvent,
  startSummary,
  type RunSummary,
  type StepSummary
} from 'reproserver/contract';

/** Statuses after which nothing more happens: the server's own list, so both sides agree. */
export { FINAL_STATUSES };

export function isFinal(status: RunStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** One piece of a step's output. */
export interface ILogChunk {
  step: number;
  stream: 'stdout' | 'stderr' | 'notice';
  text: string;
}

/** Where one step is (the server's summary of a step). */
export type IStepState = StepSummary;

/** How the run ended. */
export interface IRunEnd {
  status: RunStatus;
  failedStep?: number;
  reason?: string;
}

/**
 * The state of one run, projected from its events (the server's log is the truth; this is a
 * view of it) by the server's own reduction (`runs/summary.ts`). Events at or before the last
 * offset seen are ignored, so replays do not duplicate.
 */
export class RunSession {
  constructor(record: RunRecord) {
    this._record = record;
    // Steps start pending: the log's events say how far each got.
    this._summary = startSummary(
      record.status,
      record.steps.map(({ index, id, argv }) => ({ index, id, argv }))
    );
    this._startedAt = record.startedAt ? Date.parse(record.startedAt) : null;
  }

  get id(): string {
    return this._record.id;
  }

  get record(): RunRecord {
    return this._record;
  }

  get status(): RunStatus {
    return this._summary.status;
  }

  get statusDetail(): string | undefined {
    return this._summary.statusDetail ?? undefined;
  }

  get steps(): readonly IStepState[] {
    return this._summary.steps;
  }

  get outputs(): readonly OutputRecord[] {
    return this._summary.outputs;
  }

  get missingOutputs(): readonly { name: string; reason: string }[] {
    return this._summary.missing;
  }

  get end(): IRunEnd | null {
    const end = this._summary.end;
    return end
      ? {
          status: end.status,
          failedStep: end.failedStep ?? undefined,
          reason: end.reason ?? undefined
        }
      : null;
  }

  get log(): readonly ILogChunk[] {
    return this._log;
  }

  /** The image build's latest progress or phase while the run waits for its image, or null. */
  get build(): BuildEvent | null {
    return this._build;
  }

  /** The offset after the last event applied: where a reconnection resumes. */
  get offset(): number {
    return this._offset;
  }

  /** Milliseconds since the epoch of the first event, and of the end. */
  get startedAt(): number | null {
    return this._startedAt;
  }

  get endedAt(): number | null {
    return this._endedAt;
  }

  get finished(): boolean {
    return this._summary.end !== null || isFinal(this._summary.status);
  }

  /** The last lines of a step's output (for the failure message). */
  tail(step: number, lines = 10): string {
    const text = this._log
      .filter(c => c.step === step && c.stream !== 'notice')
      .map(c => c.text)
      .join('');
    return text.replace(/\n$/, '').split('\n').slice(-lines).join('\n');
  }

  /** Anything changed (status, steps, outputs); re-render the summary parts. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** New log text, for views that append. */
  get logAppended(): ISignal<this, ILogChunk> {
    return this._logAppended;
  }

  /** Applies one message of the run's event log; stale ones (offset already seen) are dropped. */
  apply(message: RunEventMessage): boolean {
    if (message.offset <= this._offset) {
      return false;
    }
    this._offset = message.offset;
    this._applyEvent(message.event);
    return true;
  }

  /** The server's record (after a refresh), e.g. its outputs list. */
  setRecord(record: RunRecord): void {
    this._record = record;
    let summary = this._summary;
    if (isFinal(record.status) && !summary.end) {
      summary = {
        ...summary,
        status: record.status,
        end: {
          status: record.status,
          failedStep: record.failedStep,
          reason: record.reason,
          time: record.endedAt ? Date.parse(record.endedAt) : Date.now()
        }
      };
      this._endedAt = record.endedAt ? Date.parse(record.endedAt) : null;
    }
    if (summary.outputs.length === 0 && record.outputs.length > 0) {
      summary = { ...summary, outputs: [...record.outputs] };
    }
    // Steps the events have not ended yet take what the record knows.
    summary = {
      ...summary,
      steps: summary.steps.map((step, position) => {
        const known = record.steps[position];
        return known && known.exitCode !== null && step.exitCode === null
          ? {
              ...step,
              state: 'done',
              exitCode: known.exitCode,
              durationMs: known.durationMs
            }
          : step;
      })
    };
    this._summary = summary;
    this._changed.emit();
  }

  private _applyEvent(event: RunEvent): void {
    if (this._startedAt === null) {
      this._startedAt = event.time;
    }
    this._summary = applyRunEvent(this._summary, event);
    switch (event.type) {
      case 'status':
        if (event.status !== 'building') {
          this._build = null;
        }
        break;
      case 'log':
        this._append({
          step: event.step,
          stream: event.stream,
          text: event.text
        });
        return;
      case 'log-truncated':
        this._append({
          step: event.step,
          stream: 'notice',
          text: `\n[log truncated: more than ${event.limitBytes} bytes]\n`
        });
        return;
      case 'build':
        // The server copies the image build's events into the run's log while the run waits
        // for its image: the last progress (or phase) is the build line; other build events
        // (its log, its result) say nothing the line shows.
        if (
          (event.build.type === 'progress' || event.build.type === 'phase') &&
          this._summary.status === 'building'
        ) {
          this._build = event.build;
          break;
        }
        return;
      case 'end':
        this._endedAt = event.time;
        this._build = null;
        break;
    }
    this._changed.emit();
  }

  private _append(chunk: ILogChunk): void {
    this._log.push(chunk);
    this._logAppended.emit(chunk);
  }

  private _record: RunRecord;
  private _summary: RunSummary;
  private _log: ILogChunk[] = [];
  private _build: BuildEvent | null = null;
  private _offset = 0;
  private _startedAt: number | null;
  private _endedAt: number | null = null;
  private _changed = new Signal<this, void>(this);
  private _logAppended = new Signal<this, ILogChunk>(this);
}
