/**
 * What an image build reports while it runs. Plain JSON data, so the server can append every event
 * to a build log as one line and replay it to clients that connect later.
 */

/** The steps of a build, in order; a build skips those it does not need. */
export type BuildPhase =
  'checking-cache' | 'pulling' | 'building' | 'pushing' | 'done';

/** Where the image finally came from. */
export type ImageSource = 'local' | 'registry' | 'built';

/** One build event. `time` is an ISO 8601 timestamp. */
export type BuildEvent =
  | { type: 'phase'; time: string; phase: BuildPhase }
  | {
      type: 'progress';
      time: string;
      phase: BuildPhase;
      /** Bytes done: compressed package data when building, layer bytes when pulling or pushing. */
      bytes: number;
      /** Bytes in total; 0 when not known yet. */
      totalBytes: number;
      /** Filesystem entries written so far (building only; 0 otherwise). */
      entries: number;
    }
  | { type: 'log'; time: string; level: 'info' | 'warning'; message: string }
  | {
      type: 'result';
      time: string;
      image: string;
      imageId: string;
      source: ImageSource;
      pushed: boolean;
    }
  | { type: 'error'; time: string; code: string; message: string };

/** The payload of an event, without its timestamp. */
export type BuildEventData = Untimed<BuildEvent>;

type Untimed<E> = E extends unknown ? Omit<E, 'time'> : never;

/** Receives build events as they happen. Must not throw. */
export type BuildListener = (event: BuildEvent) => void;

/** Stamps an event with the current time. */
export function stamp(data: BuildEventData): BuildEvent {
  return { ...data, time: new Date().toISOString() } as BuildEvent;
}
