/**
 * SIGKILL to `pid`'s process group (`group`: a detached child leads its own), or to `pid` alone;
 * nothing when it is gone already. Shared by the server's side of the spawner and the spawner
 * process itself.
 */
export function killGroup(pid: number, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
