/**
 * Test data shaped like the companion server's answers for the shell-pipeline example
 * (`sh wordfreq.sh words.txt 3`), and fakes of the client and its WebSocket.
 */
// From the sources: a server function the panel does not ship (it needs node:path).
import { packageParameters } from '../../server/src/rpz/parameters';
import type {
  BackendsResponse,
  PackageDetails,
  PackageModel,
  RunEvent,
  RunEventMessage,
  RunRecord
} from 'reproserver/contract';
import type { IEventSocket } from '../api/client';

export const SHA = 'a'.repeat(64);

export function packageModel(): PackageModel {
  const dir = '/tmp/reproserver-examples/shell-pipeline';
  return {
    format: 2,
    container: 'v2-tar',
    sha256: SHA,
    size: 1208320,
    configVersion: '0.8',
    packId: null,
    runs: [
      {
        id: 'run0',
        argv: ['sh', 'wordfreq.sh', 'words.txt', '3'],
        binary: '/usr/bin/sh',
        environ: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
        workingdir: dir,
        uid: 0,
        gid: 0,
        exitcode: 0,
        signal: null,
        architecture: 'x86_64',
        distribution: { name: 'debian', version: '12' },
        hostname: null,
        system: null
      },
      {
        id: 'run1',
        argv: ['python3', 'fit.py', '--n', '5', '--mode=fast'],
        binary: '/usr/bin/python3',
        environ: { PATH: '/usr/bin:/bin' },
        workingdir: dir,
        uid: 1000,
        gid: 1000,
        exitcode: 0,
        signal: null,
        architecture: 'x86_64',
        distribution: { name: 'debian', version: '12' },
        hostname: null,
        system: null
      }
    ],
    files: [
      { name: 'arg1', path: `${dir}/wordfreq.sh`, readBy: [0], writtenBy: [] },
      { name: 'arg2', path: `${dir}/words.txt`, readBy: [0], writtenBy: [] },
      {
        name: 'top-words.txt',
        path: `${dir}/top-words.txt`,
        readBy: [],
        writtenBy: [0]
      }
    ],
    packages: [
      {
        name: 'coreutils',
        version: '9.1',
        size: null,
        packfiles: true,
        files: []
      }
    ],
    otherFiles: [],
    data: { compressedSize: 1000000, listedPaths: 24 },
    trace: {
      status: 'ok',
      runs: [
        {
          run: 0,
          processes: 3,
          programs: ['/usr/bin/sh', '/usr/bin/sort'],
          filesRead: [`${dir}/words.txt`],
          filesWritten: [`${dir}/top-words.txt`]
        }
      ]
    },
    extensions: [],
    warnings: ['An odd but harmless thing.']
  };
}

export function packageDetails(): PackageDetails {
  const model = packageModel();
  return {
    sha256: SHA,
    name: 'shell-pipeline.rpz',
    size: model.size,
    path: 'work/shell-pipeline.rpz',
    createdAt: '2026-11-29T12:00:00.000Z',
    model,
    parameters: packageParameters(model),
    fileSizes: { arg1: 310, arg2: 2048, 'top-words.txt': null }
  };
}

export const BACKENDS: BackendsResponse = {
  backends: [
    {
      name: 'docker',
      available: true,
      detail: 'Docker 26 on /var/run/docker.sock',
      isolation: {
        files: true,
        network: true,
        processes: true,
        nestedUserNamespaces: false,
        capabilities: {
          scope: 'container',
          root: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'],
          nonRoot: []
        },
        memory: 'cgroup',
        cpu: 'cgroup',
        disk: 'polling'
      }
    },
    {
      name: 'sandbox',
      available: false,
      detail: 'bubblewrap is not installed.',
      isolation: null
    }
  ],
  default: 'docker',
  weakIsolation: 'ask'
};

export function runRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: 'r1',
    package: SHA,
    packageName: 'shell-pipeline.rpz',
    status: 'queued',
    backend: 'docker',
    image: null,
    createdAt: '2026-11-29T12:01:00.000Z',
    startedAt: null,
    endedAt: null,
    edits: {},
    limits: {
      memoryMiB: 2048,
      cpus: 1,
      pids: 512,
      timeoutSeconds: 3600,
      outputBytes: 1e9,
      logBytes: 1e6,
      diskMiB: 10240
    },
    steps: [
      {
        index: 0,
        id: 'run0',
        argv: ['sh', 'wordfreq.sh', 'words.txt', '3'],
        exitCode: null,
        durationMs: null
      }
    ],
    outputs: [],
    missingOutputs: [],
    failedStep: null,
    reason: null,
    eventsSize: 0,
    ...overrides
  };
}

/** A WebSocket the test drives by hand. */
export class FakeSocket implements IEventSocket {
  constructor(
    readonly runId: string,
    readonly offset: number
  ) {}

  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closed = false;

  open(): void {
    this.onopen?.({});
  }

  send(message: RunEventMessage): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  drop(): void {
    this.closed = true;
    this.onclose?.({ code: 1006, reason: '' });
  }

  close(): void {
    this.closed = true;
  }
}

/** An event without its timestamp (the log adds it). */
type Untimed<E> = E extends unknown ? Omit<E, 'time'> : never;

/** Builds a run's event log: messages with growing offsets. */
export class EventLog {
  messages: RunEventMessage[] = [];
  private _offset = 0;
  private _time = 1_700_000_000_000;

  add(event: Untimed<RunEvent>): RunEventMessage {
    const full = { ...event, time: (this._time += 1000) } as RunEvent;
    this._offset += JSON.stringify(full).length + 1;
    const message = { offset: this._offset, event: full };
    this.messages.push(message);
    return message;
  }

  /** The messages after `offset`, as the server sends on reconnection. */
  after(offset: number): RunEventMessage[] {
    return this.messages.filter(m => m.offset > offset);
  }
}
