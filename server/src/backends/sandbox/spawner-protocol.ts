/** What the server and its spawner process (`spawner.ts`, `spawner-process.ts`) say. */

/** Server → spawner: start a program, as `child_process.spawn` would. */
export interface SpawnRequest {
  id: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  /** For each of the child's descriptors from 0: a pipe to the server, or /dev/null (0 always). */
  stdio: ('pipe' | 'ignore')[];
  detached: boolean;
}

/**
 * Spawner → server, about request `id`, in this order: `spawned`, then one `pipe` per pipe asked
 * for (the message carries the server's end), then `exit`; or `error` when it could not start.
 */
export type SpawnerMessage =
  | { id: number; kind: 'spawned'; pid: number }
  | { id: number; kind: 'pipe'; index: number }
  | {
      id: number;
      kind: 'exit';
      code: number | null;
      signal: NodeJS.Signals | null;
    }
  | { id: number; kind: 'error'; message: string };
