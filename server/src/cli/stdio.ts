/**
 * Standard output and error, written straight to their file descriptors. `process.stdout` is a
 * stream, and making it loads Node's stream machinery, a good part of a short command's start-up
 * (`reproserver --version`, a remembered `inspect`).
 *
 * Writes are synchronous and whole. Should a descriptor refuse to wait (a non-blocking pipe that
 * is full), that text and everything after it go through Node's stream, which queues them, so the
 * order is kept. A reader that went away (`| head`) ends the output quietly, as it would end a
 * command killed by SIGPIPE.
 */
import { writeSync } from 'node:fs';

export interface TextSink {
  write(text: string): boolean;
}

function directWriter(fd: 1 | 2, stream: () => NodeJS.WriteStream): TextSink {
  let queued = false;
  let closed = false;
  return {
    write(text: string): boolean {
      if (queued) {
        return stream().write(text);
      }
      let rest = Buffer.from(text);
      while (rest.length > 0 && !closed) {
        try {
          rest = rest.subarray(writeSync(fd, rest));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            queued = true;
            return stream().write(rest);
          }
          if (code !== 'EPIPE') {
            throw error;
          }
          closed = true;
        }
      }
      return true;
    }
  };
}

export const directStdout = directWriter(1, () => process.stdout);
export const directStderr = directWriter(2, () => process.stderr);
