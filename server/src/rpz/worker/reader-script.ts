/**
 * Where the reader process's script is: `reader-process` beside this module, in whichever shape
 * the server runs (`child-script.ts`). `REPROSERVER_READER_SCRIPT` names another file (for
 * debugging a reader).
 */
import { childScript } from '../../child-script';

/** The reader process's script; throws with what to do when there is none. */
export function readerScript(): string {
  return (
    process.env.REPROSERVER_READER_SCRIPT ||
    childScript(__dirname, 'reader-process')
  );
}
