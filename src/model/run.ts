import { Signal, type ISignal } from '@lumino/signaling';
import type {
  BuildEvent,
  OutputRecord,
  RunEvent,
  RunEventMessage,
  RunRecord,
  RunStatus
} from 'reproserver/dist/api/wire';
// A pure module of the server, bundled as is.
import { FINAL_STATUSES } from 'reproserver/dist/runs/events';

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

/** Where one step is. */
export interface IStepState {
  index: number;
  id: string;
  argv: string[];
  state: 'pending' | 'running' | 'done';
  exitCode: number | null;
  durationMs: number | null;
}

/** How the run ended. */
export interface IRunEnd {
  status: RunStatus;
  failedStep?: number;
  reason?: string;
}

/**
 * The state of one run, projected from its events (the server's log is the truth; this is a
 * view of it). Events at or before the last offset seen are ignored, so replays do not duplicate.
 */
export class RunSession {
  constructor(record: RunRecord) {
    this._record = record;
    this._status = record.status;
    this._steps = record.steps.map(s => ({
      index: s.index,
      id: s.id,
      argv: s.argv,
      state: 'pending',
      exitCode: null,
      durationMs: null
    }));
    this._startedAt = record.startedAt ? Date.parse(record.startedAt) : null;
  }

  get id(): string {
    return this._record.id;
  }

  get record(): RunRecord {
    return this._record;
  }

  get status(): RunStatus {
    return this._status;
  }

  get statusDetail(): string | undefined {
    return this._statusDetail;
  }

  get steps(): readonly IStepState[] {
    return this._steps;
  }

  get outputs(): readonly OutputRecord[] {
    return this._outputs;
  }

  get missingOutputs(): readonly { name: string; reason: string }[] {
    return this._missing;
  }

  get end(): IRunEnd | null {
    return this._end;
  }

  get log(): readonly ILogChunk[] {
    return this._log;
  }

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
    return this._end !== null || isFinal(this._status);
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

  /** Build progress, polled while the image builds. */
  setBuild(event: BuildEvent | null): void {
    this._build = event;
    this._changed.emit();
  }

  /** The server's record (after a refresh), e.g. its outputs list. */
  setRecord(record: RunRecord): void {
    this._record = record;
    if (isFinal(record.status) && !this._end) {
      this._status = record.status;
      this._end = {
        status: record.status,
        failedStep: record.failedStep ?? undefined,
        reason: record.reason ?? undefined
      };
      this._endedAt = record.endedAt ? Date.parse(record.endedAt) : null;
    }
    if (this._outputs.length === 0 && record.outputs.length > 0) {
      this._outputs = [...record.outputs];
    }
    for (const s of record.steps) {
      const state =
        this._steps[this._steps.findIndex(x => x.index === s.index)];
      if (state && s.exitCode !== null && state.exitCode === null) {
        state.exitCode = s.exitCode;
        state.durationMs = s.durationMs;
        state.state = 'done';
      }
    }
    this._changed.emit();
  }

  private _applyEvent(event: RunEvent): void {
    if (this._startedAt === null) {
      this._startedAt = event.time;
    }
    switch (event.type) {
      case 'status':
        this._status = event.status;
        this._statusDetail = event.detail;
        if (event.status !== 'building') {
          this._build = null;
        }
        break;
      case 'step-start': {
        const step = this._step(event.step, event.id, event.argv);
        step.state = 'running';
        step.argv = event.argv;
        break;
      }
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
      case 'step-end': {
        const step = this._step(event.step);
        step.state = 'done';
        step.exitCode = event.exitCode;
        step.durationMs = event.durationMs;
        break;
      }
      case 'output':
        if (!this._outputs.some(o => o.name === event.name)) {
          this._outputs.push({
            name: event.name,
            path: event.path,
            kind: event.kind,
            size: event.size,
            sha256: event.sha256
          });
          this._outputs.sort(
            (a, b) =>
              Number(a.kind === 'changed') - Number(b.kind === 'changed')
          );
        }
        break;
      case 'output-missing':
        this._missing.push({ name: event.name, reason: event.reason });
        break;
      case 'end':
        this._status = event.status;
        this._end = {
          status: event.status,
          failedStep: event.failedStep,
          reason: event.reason
        };
        this._endedAt = event.time;
        this._build = null;
        break;
    }
    this._changed.emit();
  }

  private _step(index: number, id?: string, argv?: string[]): IStepState {
    let step = this._steps.find(s => s.index === index);
    if (!step) {
      step = {
        index,
        id: id ?? `run${index}`,
        argv: argv ?? [],
        state: 'pending',
        exitCode: null,
        durationMs: null
      };
      this._steps.push(step);
      this._steps.sort((a, b) => a.index - b.index);
    }
    return step;
  }

  private _append(chunk: ILogChunk): void {
    this._log.push(chunk);
    this._logAppended.emit(chunk);
  }

  private _record: RunRecord;
  private _status: RunStatus;
  private _statusDetail: string | undefined;
  private _steps: IStepState[];
  private _outputs: OutputRecord[] = [];
  private _missing: { name: string; reason: string }[] = [];
  private _end: IRunEnd | null = null;
  private _log: ILogChunk[] = [];
  private _build: BuildEvent | null = null;
  private _offset = 0;
  private _startedAt: number | null;
  private _endedAt: number | null = null;
  private _changed = new Signal<this, void>(this);
  private _logAppended = new Signal<this, ILogChunk>(this);
}
