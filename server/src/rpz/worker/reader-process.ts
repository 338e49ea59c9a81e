/**
 * The reader process: the only place where a package's metadata is parsed (tar and pax headers,
 * config.yml, the trace database, the data's file list). It runs apart from the server so that
 * a package crafted to loop, to allocate or to crash native code stops this process only: the
 * server (`reader-pool.ts`) kills it past its deadline or memory cap and starts a fresh one.
 * Started by the pool with an IPC channel; answers one `ReaderRequest` at a time.
 */
import { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../../describe';
import type * as ExtractModule from '../../sandbox/extract';
import type * as EntriesModule from '../entries';
import { RpzError } from '../errors';
import type * as FileSizesModule from '../file-sizes';
import type * as PackageModule from '../package';
import type {
  ReaderErrorData,
  ReaderReady,
  ReaderReply,
  ReaderRequest,
  ReaderResults,
  ReaderTask,
  StreamNotice,
  StreamProgress,
  StreamRequest
} from './protocol';
import type * as StreamJobsModule from './stream-jobs';

/** How often a stream job's counters are sampled and sent when they changed. */
const PROGRESS_MS = 250;

/*
 * Each task's modules load on its first use, not at start: a reader is started for one task (a
 * CLI's `inspect`, a server's first upload) and says it is ready sooner; the parsers of a package
 * read are not needed by a stream job, and the reverse. `require` inside a function stays lazy in
 * the esbuild bundle too.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
async function perform(
  task: ReaderTask
): Promise<ReaderResults[ReaderTask['kind']]> {
  switch (task.kind) {
    case 'package':
      return (require('../package') as typeof PackageModule).readPackage(
        task.path,
        task.options
      );
    case 'file-sizes':
      return (require('../file-sizes') as typeof FileSizesModule).ioFileSizes(
        task.path,
        { files: task.files }
      );
    case 'scan':
      return (require('../entries') as typeof EntriesModule).scanEntries(
        task.path
      );
  }
}

/** Set when the stream jobs load: only they extract to disk, hence only they run out of space. */
let DiskFullError: typeof ExtractModule.DiskFullError | undefined;

function streamJobs(): typeof StreamJobsModule {
  DiskFullError ??= (require('../../sandbox/extract') as typeof ExtractModule)
    .DiskFullError;
  return require('./stream-jobs') as typeof StreamJobsModule;
}
/* eslint-enable @typescript-eslint/no-require-imports */

function errorData(error: unknown): ReaderErrorData {
  if (error instanceof RpzError) {
    return error.member === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, member: error.member };
  }
  if (DiskFullError !== undefined && error instanceof DiskFullError) {
    return { name: 'DiskFullError', message: error.message };
  }
  return { message: errorMessage(error) };
}

type Send = (message: ReaderReply | ReaderReady | StreamNotice) => void;

/**
 * Runs a stream job, its bytes going to fd 3 (a pipe the server opened for this reader only), its
 * counters sent every `PROGRESS_MS` when they changed, and last its reply.
 */
async function stream(request: StreamRequest, send: Send): Promise<void> {
  const { id } = request;
  const out = new Socket({ fd: 3, readable: false, writable: true });
  let read: (() => StreamProgress) | undefined;
  let last = '';
  const sample = (): void => {
    const counters = read?.();
    const key = JSON.stringify(counters);
    if (counters !== undefined && key !== last) {
      last = key;
      send({ id, progress: counters });
    }
  };
  const timer = setInterval(sample, PROGRESS_MS);
  try {
    const { performStream } = streamJobs();
    const value = await performStream(request.stream, {
      out,
      progress: counters => {
        read = counters;
      },
      warning: message => send({ id, warning: message })
    });
    sample();
    send({ id, ok: true, value });
  } catch (error) {
    out.destroy();
    send({ id, ok: false, error: errorData(error) });
  } finally {
    clearInterval(timer);
  }
}

function serve(send: Send): void {
  process.on('message', (request: ReaderRequest | StreamRequest) => {
    if ('stream' in request) {
      void stream(request, send);
      return;
    }
    perform(request.task).then(
      value => send({ id: request.id, ok: true, value }),
      (error: unknown) =>
        send({ id: request.id, ok: false, error: errorData(error) })
    );
  });
  // The server went away (or closed the pool): nothing is left to answer.
  process.on('disconnect', () => process.exit(0));
  send({ ready: true });
}

/**
 * Kills this process when the server is gone. Its IPC channel closing says so, but a task stuck in
 * native code (an endless SQLite query) never gets to hear it, and a server that was killed cannot
 * kill us: a thread of our own checks for a new parent process.
 */
function watchParent(): void {
  const watchdog = new Worker(
    `const parent = process.ppid;
     setInterval(() => {
       if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
     }, 1000);`,
    { eval: true }
  );
  watchdog.unref();
}

if (process.send === undefined) {
  console.error(
    'reader-process: started without an IPC channel; the server starts this file itself.'
  );
  process.exit(2);
} else {
  const send = process.send.bind(process);
  watchParent();
  serve(message => send(message));
}
