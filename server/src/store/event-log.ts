import { EventEmitter } from 'node:events';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-state';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RunEvent } from '../runs/events';
import { scanLines } from './jsonl-scan';
import { assertRunId } from './run-id';

/**
 * When appends are fsynced. `state` (default): after every event but log chunks, so a crash
 * loses at most the latest log lines, never a status, step end or output that records may
 * already point at; `always`: every event; `never`: leave it to the OS (tests, throwaway runs).
 */
export type FsyncPolicy = 'always' | 'state' | 'never';

export interface EventLogOptions {
  fsync?: FsyncPolicy;
  /**
   * How often a follower looks at the file without being told of an append, ms: appends from
   * another process (a CLI run sharing the state folder) notify nobody here. Default 1000.
   */
  pollMs?: number;
}

/** A page of a log: its events from an offset, and the offset to read from next. */
export interface EventPage {
  events: RunEvent[];
  nextOffset: number;
}

/** Why a follow ended, and the offset a later read or follow should resume from. */
export interface FollowResult {
  /** `end`: the run's `end` event was delivered; `closed`: the log was closed or deleted. */
  reason: 'end' | 'closed' | 'aborted';
  nextOffset: number;
}

/** An offset that is not the start of a line of the log (or is past its end). */
export class EventLogOffsetError extends Error {
  constructor(
    readonly runId: string,
    readonly offset: number
  ) {
    super(
      `Offset ${offset} is not the start of an event in the log of run ${runId}: resume from an offset the server gave.`
    );
    this.name = 'EventLogOffsetError';
  }
}

interface Writer {
  handle: Promise<FileHandle>;
  /** Appends run one after the other, so each knows the offset its line ends at. */
  queue: Promise<unknown>;
  size: number;
}

const DEFAULT_PAGE_BYTES = 1024 ** 2;

/**
 * Each run's events as an append-only file `<root>/<id>/events.jsonl`, one JSON event per line.
 * Offsets are byte offsets in that file, so a client resumes exactly where it stopped. One writer
 * per run (the process executing it); any number of readers and followers. A line is only a line
 * once its `\n` is written: readers ignore an unterminated last line (an append in progress or a
 * crash), and the writer cuts such a torn tail off before its first append after a restart.
 */
export class EventLogs {
  readonly root: string;
  private readonly fsync: FsyncPolicy;
  private readonly pollMs: number;
  private readonly writers = new Map<string, Writer>();
  /** Logs that take no more appends (closing or closed). */
  private readonly ending = new Set<string>();
  /** Logs closed with every append done: a follower that sees this has read everything. */
  private readonly closed = new Set<string>();
  /** Emits a run id after each append to it and when it is closed. */
  private readonly changes = new EventEmitter().setMaxListeners(0);

  constructor(root: string, options: EventLogOptions = {}) {
    this.root = resolve(root);
    this.fsync = options.fsync ?? 'state';
    this.pollMs = options.pollMs ?? 1000;
  }

  /** The log file of a run. */
  pathOf(runId: string): string {
    return join(this.root, assertRunId(runId), 'events.jsonl');
  }

  /**
   * Appends one event; resolves with the offset just past its line (the log's new size). The
   * line goes out in a single write, so no reader ever sees two events mixed. Appending an `end`
   * event closes the log.
   */
  async append(runId: string, event: RunEvent): Promise<number> {
    const path = this.pathOf(runId);
    if (this.ending.has(runId)) {
      throw new Error(`The event log of run ${runId} is closed.`);
    }
    let writer = this.writers.get(runId);
    if (!writer) {
      writer = {
        handle: openForAppend(path),
        queue: Promise.resolve(),
        size: 0
      };
      this.writers.set(runId, writer);
      const opened = writer;
      // A log that could not be opened (disk full, permissions) is tried afresh next time.
      opened.handle.catch(() => {
        if (this.writers.get(runId) === opened) {
          this.writers.delete(runId);
        }
      });
    }
    const w = writer;
    const appended = w.queue.then(async () => {
      const handle = await w.handle;
      if (w.size === 0) {
        w.size = (await handle.stat()).size;
      }
      const line = Buffer.from(`${JSON.stringify(event)}\n`);
      let written = 0;
      while (written < line.length) {
        // One write(2) in practice; a short write (disk full) is finished or fails here.
        const { bytesWritten } = await handle.write(line, written);
        written += bytesWritten;
      }
      w.size += line.length;
      if (
        this.fsync === 'always' ||
        (this.fsync === 'state' && event.type !== 'log')
      ) {
        await handle.sync();
      }
      this.changes.emit(runId);
      return w.size;
    });
    // A failed append must not block the next ones.
    w.queue = appended.catch(() => undefined);
    const size = await appended;
    if (event.type === 'end') {
      await this.close(runId);
    }
    return size;
  }

  /**
   * Events from `fromOffset` (0, or an offset this log gave), up to about `maxBytes` of log (at
   * least one event when there is one), and the offset to read from next.
   */
  async read(
    runId: string,
    fromOffset = 0,
    maxBytes = DEFAULT_PAGE_BYTES
  ): Promise<EventPage> {
    const path = this.pathOf(runId);
    await this.checkOffset(runId, path, fromOffset);
    const events: RunEvent[] = [];
    const nextOffset = await scanLines(
      path,
      fromOffset,
      (line, end) => {
        events.push(parseLine(line, runId, end));
        return 'continue';
      },
      maxBytes
    );
    return { events, nextOffset };
  }

  /**
   * Delivers every event from `fromOffset` on, then each new one as it is appended, with the
   * offset just past it, until the run's `end` event, the log's closing or deletion, or `signal`.
   * The file is the only source of events (a notification only says "read again"), so the switch
   * from catching up to live can neither skip nor repeat a line. The next event is read only once
   * `onEvent`'s promise settles: a slow client holds back its own stream, not the server's memory.
   */
  async follow(
    runId: string,
    fromOffset: number,
    onEvent: (event: RunEvent, nextOffset: number) => void | Promise<void>,
    signal?: AbortSignal
  ): Promise<FollowResult> {
    const path = this.pathOf(runId);
    await this.checkOffset(runId, path, fromOffset);
    let offset = fromOffset;
    // Set by every notification, even while reading: no append between the read reaching the
    // end of the file and the wait can go unnoticed.
    let changed = true;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      changed = true;
      wake?.();
    };
    this.changes.on(runId, notify);
    signal?.addEventListener('abort', notify);
    try {
      for (;;) {
        if (signal?.aborted) {
          return { reason: 'aborted', nextOffset: offset };
        }
        changed = false;
        // Closing waits for pending appends: closed before this read means this read sees all.
        const closedBefore = this.closed.has(runId);
        let ended = false;
        offset = await scanLines(path, offset, async (line, end) => {
          const event = parseLine(line, runId, end);
          await onEvent(event, end);
          ended = event.type === 'end';
          return ended || signal?.aborted ? 'stop' : 'continue';
        });
        if (ended) {
          return { reason: 'end', nextOffset: offset };
        }
        if (closedBefore) {
          return { reason: 'closed', nextOffset: offset };
        }
        if (!changed && !signal?.aborted) {
          await new Promise<void>(done => {
            const timer = setTimeout(done, this.pollMs);
            wake = () => {
              clearTimeout(timer);
              done();
            };
          });
          wake = undefined;
        }
      }
    } finally {
      this.changes.off(runId, notify);
      signal?.removeEventListener('abort', notify);
    }
  }

  /**
   * Ends a run's log: waits for pending appends, releases the file, refuses later appends and
   * lets every follower finish once it has read the last line.
   */
  async close(runId: string): Promise<void> {
    assertRunId(runId);
    this.ending.add(runId);
    const writer = this.writers.get(runId);
    this.writers.delete(runId);
    if (writer) {
      await writer.queue;
      const handle = await writer.handle.catch(() => undefined);
      await handle?.close();
    }
    this.closed.add(runId);
    this.changes.emit(runId);
  }

  /**
   * Closes a log's file until its next append, which opens it again (a queued run's log waits
   * without a file descriptor). Appends already asked for are written first.
   */
  async release(runId: string): Promise<void> {
    const writer = this.writers.get(runId);
    if (!writer) {
      return;
    }
    let queue: Promise<unknown>;
    do {
      queue = writer.queue;
      await queue;
    } while (queue !== writer.queue);
    if (this.writers.get(runId) !== writer) {
      return;
    }
    this.writers.delete(runId);
    const handle = await writer.handle.catch(() => undefined);
    await handle?.close();
  }

  /** The log's size in bytes (0 when it has no event yet). */
  async size(runId: string): Promise<number> {
    try {
      return (await stat(this.pathOf(runId))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return 0;
      }
      throw error;
    }
  }

  /** Closes the log and removes the run's folder. */
  async delete(runId: string): Promise<void> {
    await this.close(runId);
    await rm(join(this.root, runId), { recursive: true, force: true });
  }

  /** Closes every open log (server shutdown); a restarted server may append to them again. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.writers.keys()].map(id => this.close(id)));
  }

  private async checkOffset(
    runId: string,
    path: string,
    offset: number
  ): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new EventLogOffsetError(runId, offset);
    }
    if (offset === 0) {
      return;
    }
    // A line starts at offset when the byte before it ends a line.
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) {
      throw new EventLogOffsetError(runId, offset);
    }
    try {
      const byte = Buffer.alloc(1);
      const { bytesRead } = await handle.read(byte, 0, 1, offset - 1);
      if (bytesRead !== 1 || byte[0] !== 0x0a) {
        throw new EventLogOffsetError(runId, offset);
      }
    } finally {
      await handle.close();
    }
  }
}

function parseLine(line: Buffer, runId: string, end: number): RunEvent {
  try {
    return JSON.parse(line.toString('utf8')) as RunEvent;
  } catch {
    throw new Error(
      `The event log of run ${runId} is damaged: the line ending at byte ${end} is not JSON.`
    );
  }
}

/**
 * Opens a log for appending, first cutting off a torn last line (a crash in the middle of a
 * write): no reader has taken it as an event, and appending after it would glue two events.
 */
async function openForAppend(path: string): Promise<FileHandle> {
  await mkdir(join(path, '..'), { recursive: true, mode: PRIVATE_DIR_MODE });
  const complete = await completeLength(path);
  if (complete !== undefined) {
    await truncate(path, complete);
  }
  return open(path, 'a', PRIVATE_FILE_MODE);
}

/** The length of a file's complete lines, when it ends with an incomplete one; else undefined. */
async function completeLength(path: string): Promise<number | undefined> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let end = size;
    let first = true;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (first && newline === bytesRead - 1) {
        return undefined;
      }
      first = false;
      if (newline !== -1) {
        return start + newline + 1;
      }
      end = start;
    }
    return size === 0 ? undefined : 0;
  } finally {
    await handle.close();
  }
}
