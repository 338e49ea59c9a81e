/** Where ReproServer's own files appear inside a run's container. */

/** At the root, so no packed `/bin` link can hide it; excluded from the run's changed files. */
export const HELPER_DIR = '/.reproserver';

/** The static `rpz-exec` binary, bind-mounted read-only from the host. */
export const HELPER = `${HELPER_DIR}/rpz-exec`;
