/**
 * Galata configuration of the Binder check (scripts/binder-check.sh): only tests/binder*.spec.ts,
 * against the JupyterLab that the script started (from the installed wheel, as a non-root user,
 * without Docker, in a 1 or 2 GiB cgroup, perhaps with user namespaces refused) at
 * REPROSERVER_BINDER_URL. No webServer: the script owns
 * that JupyterLab, to measure it and stop it.
 */
const base = require('./playwright.config');

const url = process.env.REPROSERVER_BINDER_URL;
if (!url) {
  throw new Error(
    'REPROSERVER_BINDER_URL is not set: run scripts/binder-check.sh, which starts JupyterLab.'
  );
}

module.exports = {
  ...base,
  testMatch: 'binder*.spec.ts',
  testIgnore: [],
  use: { ...base.use, baseURL: url },
  // One JupyterLab: the script's (the base's projects name two, with servers of their own).
  projects: undefined,
  webServer: undefined
};
