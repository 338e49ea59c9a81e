/**
 * Which backend a new run gets, and whether it may start there: a backend isolating less than
 * files + network needs the user's consent, and never runs on a server that refuses such runs.
 */
import { sandboxIsolation } from '../../backends/detect';
import {
  consentSentence,
  needsConsent,
  type WeakIsolationPolicy
} from '../../backends/exposure';
import { pingDocker } from '../../backends/docker/ping';
import { detectSandbox } from '../../backends/sandbox/detect';
import { detectSlurm } from '../../backends/slurm/detect';
import { DomainError } from '../../errors';

export type Backend = 'docker' | 'sandbox' | 'slurm';

/**
 * `auto`: Docker when a daemon answers, else the sandbox; a named backend must work here. Slurm
 * is only ever chosen by name: a cluster's queue is the user's choice, not a fallback.
 */
export async function chooseBackend(
  requested: string,
  dockerSocket: string
): Promise<Backend> {
  if (!['auto', 'docker', 'sandbox', 'slurm'].includes(requested)) {
    throw new DomainError(
      'bad-backend',
      `Unknown backend "${requested}": use auto, docker, sandbox or slurm.`
    );
  }
  if (requested === 'slurm') {
    const slurm = await detectSlurm();
    if (!slurm.available) {
      throw new DomainError('backend-unavailable', slurm.detail);
    }
    return 'slurm';
  }
  const docker = await pingDocker(dockerSocket);
  if (docker.ok && requested !== 'sandbox') {
    return 'docker';
  }
  const dockerReason = docker.ok ? 'not chosen' : docker.reason;
  if (requested === 'docker') {
    throw new DomainError(
      'backend-unavailable',
      `Docker is unavailable: ${dockerReason}.`
    );
  }
  const sandbox = await detectSandbox();
  if (!sandbox.available) {
    throw new DomainError(
      'backend-unavailable',
      requested === 'auto'
        ? `No backend can run experiments here. Docker: ${dockerReason}. ${sandbox.detail}`
        : sandbox.detail
    );
  }
  return 'sandbox';
}

/**
 * Why a run on this backend needs the user's consent (what the experiment could reach), or null
 * when the backend isolates files and network here.
 */
export async function weakIsolationSentence(
  backend: Backend
): Promise<string | null> {
  // A Slurm job runs the same sandbox on nodes like this host (docs/cluster.md).
  if (backend !== 'sandbox' && backend !== 'slurm') {
    return null;
  }
  const isolation = await sandboxIsolation(await detectSandbox());
  return needsConsent(isolation) ? consentSentence(backend, isolation) : null;
}

/**
 * Throws unless a run may start on this backend: with weak isolation, only when the user
 * accepted it, and never when the server's policy refuses it.
 */
export async function checkIsolation(
  backend: Backend,
  accepted: boolean,
  policy: WeakIsolationPolicy = 'ask'
): Promise<void> {
  const sentence = await weakIsolationSentence(backend);
  if (sentence === null) {
    return;
  }
  if (policy === 'refuse') {
    throw new DomainError(
      'weak-isolation-refused',
      `${sentence} This server refuses such runs (--weak-isolation refuse): ask its administrator for Docker, or for a sandbox with Landlock or user namespaces.`
    );
  }
  if (!accepted) {
    throw new DomainError(
      'weak-isolation-consent',
      `${sentence} Run it only if you trust this package, and say so: the panel asks, \`reproserver run --allow-weak-isolation\`, or "acceptWeakIsolation": true in the request.`
    );
  }
}
