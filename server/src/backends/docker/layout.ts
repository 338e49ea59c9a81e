/** Where ReproServer's own files appear inside a run's container. */

/** At the root, so no packed `/bin` link can hide it; excluded from the run's changed files. */
export const HELPER_DIR = '/.reproserver';

/** The static `rpz-exec` binary, bind-mounted read-only from the host. */
export const HELPER = `${HELPER_DIR}/rpz-exec`;

/**
 * Where `rpz-exec step` keeps each step's log, exit code and claim: in the container's own
 * writable layer (never a host folder), root's and 0700, so that the engine's archive API can
 * still read them when the container has stopped.
 */
export const STEPS_DIR = `${HELPER_DIR}/steps`;
