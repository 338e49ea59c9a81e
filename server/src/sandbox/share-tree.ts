/**
 * Opens a tree of the sandbox's cache to every user, for a shared, read-only cache of trees
 * (`reproserver prepare --trees`): folders become 0755-like (readable and searchable), files
 * readable (and executable where their owner could execute them), and setuid and setgid bits are
 * removed — a package is a stranger's, and an administrator extracting it as root must not leave
 * root-owned setuid programs where every user can reach them. Symbolic links are not followed.
 *
 * Runs in this process, synchronously per entry but yielding between folders, so a server or a
 * command with other work keeps it going.
 */
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The mode an entry of a shared tree gets: its owner's permissions given to everyone (group and
 * others), setuid and setgid removed, the sticky bit kept. In a run, the experiment acts as the
 * owner of its package's files (the server's user, mapped to root, when the server unpacks them
 * itself); over a tree owned by the administrator it is "others", so others get what the owner
 * had — the shared folder is mounted read-only, so nobody writes there (runs write to their own
 * overlay layer).
 */
export function sharedMode(mode: number): number {
  const owner = (mode >> 6) & 0o7;
  return (mode & 0o1000) | (owner << 6) | (owner << 3) | owner;
}

/** Applies `sharedMode` to `root` and everything under it; returns the number of entries. */
export async function shareTree(root: string): Promise<number> {
  let count = 0;
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    const facts = await lstat(folder);
    await chmod(folder, sharedMode(facts.mode));
    count++;
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        pending.push(path);
      } else if (entry.isFile()) {
        const mode = (await lstat(path)).mode;
        await chmod(path, sharedMode(mode));
        count++;
      }
      // Links keep their own (ignored) mode; devices and fifos are not extracted.
    }
  }
  return count;
}
