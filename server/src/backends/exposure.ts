/**
 * What an experiment could do with the user's account on a backend, from its isolation statement,
 * and whether a run there needs the user's consent first: a backend that isolates less than the
 * user's files and the network (proot without Landlock and seccomp) never starts a run silently.
 *
 * Pure (no Node.js module): the panel imports it too, so the server and the panel agree on when to
 * ask and on what to name.
 */
import type { BackendIsolation } from '../contract/wire';

/** Something of the user's an experiment can reach: the reasons a run may need consent. */
export type Exposure = 'files' | 'network' | 'processes';

/**
 * How a server treats runs on a weakly isolating backend: `ask` starts them once the request says
 * the user accepted; `refuse` never starts them (a server that several users reach).
 */
export type WeakIsolationPolicy = 'ask' | 'refuse';

/** What the experiment can reach on this backend, in a fixed order; [] when fully isolated. */
export function exposuresOf(isolation: BackendIsolation): Exposure[] {
  const exposures: Exposure[] = [];
  if (!isolation.files) {
    exposures.push('files');
  }
  if (!isolation.network) {
    exposures.push('network');
  }
  if (!isolation.processes) {
    exposures.push('processes');
  }
  return exposures;
}

/** Whether a run on this backend must not start without the user's consent. */
export function needsConsent(isolation: BackendIsolation): boolean {
  return !isolation.files || !isolation.network;
}

/** One sentence per exposure, naming what the experiment will be able to do with the account. */
export const EXPOSURE_SENTENCES: Record<Exposure, string> = {
  files:
    'read, change and delete every file your account can reach, outside the experiment too',
  network:
    'connect to the network, including services on this machine such as JupyterLab',
  processes:
    'see your other programs, and read or signal those it has the rights to'
};

/** The sentence an API error or the CLI gives when a run needs consent. */
export function consentSentence(
  backend: string,
  isolation: BackendIsolation
): string {
  const can = exposuresOf(isolation)
    .map(exposure => EXPOSURE_SENTENCES[exposure])
    .join('; ');
  return `The ${backend} backend does not isolate this experiment from your account here: it could ${can}.`;
}
