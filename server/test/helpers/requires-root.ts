/**
 * Tests of what only root can set up (another user's files, changing user, a root server). The
 * test command runs as root, so they always run there; run elsewhere, they fail with this sentence
 * instead of being skipped, so that a green run never hides a case that did not run.
 */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${what} needs root: run the tests as root, as the test command (./reproserver-lab test) does.`
    );
  }
}
