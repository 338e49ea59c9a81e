import type { TranslationBundle } from '@jupyterlab/translation';
import type { BackendIsolation } from 'reproserver/contract';
import { h } from './dom';

/**
 * What the backend of the next run isolates and what it does not, as the server states it: the
 * user reads, before running someone else's package, whether it can reach their files, network
 * or processes. What is not isolated is said in bold.
 */
export function renderIsolation(
  isolation: BackendIsolation,
  trans: TranslationBundle
): HTMLElement {
  const areas: [keyof BackendIsolation, string][] = [
    ['files', trans.__('your files')],
    ['network', trans.__('the network')],
    ['processes', trans.__('your other processes')]
  ];
  // Confined proot: host processes stay visible, but their secrets and signals are out of reach.
  const processesOnlySeen =
    !isolation.processes &&
    isolation.confinement?.processSecrets === true &&
    isolation.confinement.signals;
  const isolated = areas.filter(([key]) => isolation[key] === true);
  const exposed = areas.filter(
    ([key]) =>
      isolation[key] !== true && !(key === 'processes' && processesOnlySeen)
  );
  const { capabilities } = isolation;
  const rootKeeps =
    capabilities.scope === 'host'
      ? isolation.hostUser === 'unprivileged'
        ? trans.__(
            'steps run on this host as an unprivileged user of their own, without privileges'
          )
        : trans.__('steps have the server’s own privileges on this host')
      : capabilities.root.length === 0
        ? trans.__('steps have no privileges')
        : trans._n(
            'root steps keep %1 privilege, inside their %2 only',
            'root steps keep %1 privileges, inside their %2 only',
            capabilities.root.length,
            capabilities.scope === 'container'
              ? trans.__('container')
              : trans.__('user namespace')
          );
  const enforcement = (how: BackendIsolation['memory']): string =>
    how === 'none' ? trans.__('not enforced') : how;
  return h(
    'div',
    { class: 'jp-ReproServer-isolation jp-ReproServer-muted' },
    isolated.length > 0
      ? trans.__(
          'The experiment cannot reach %1. ',
          isolated.map(([, label]) => label).join(', ')
        )
      : '',
    processesOnlySeen
      ? trans.__(
          'It can see your other processes, but cannot read their environment or memory, nor signal them. '
        )
      : '',
    isolation.confinement
      ? isolation.confinement.landlockAbi !== null
        ? trans.__(
            'Each step is confined by Landlock (ABI %1)%2. ',
            isolation.confinement.landlockAbi,
            isolation.confinement.seccomp ? trans.__(' and seccomp') : ''
          )
        : isolation.confinement.seccomp
          ? trans.__('Each step is confined by seccomp. ')
          : ''
      : '',
    exposed.length > 0
      ? h(
          'strong',
          { class: 'jp-ReproServer-notIsolated' },
          trans.__(
            'It CAN reach %1. ',
            exposed.map(([, label]) => label).join(', ')
          )
        )
      : '',
    trans.__(
      '%1; limits: memory %2, CPU %3, disk %4.',
      rootKeeps.charAt(0).toUpperCase() + rootKeeps.slice(1),
      enforcement(isolation.memory),
      enforcement(isolation.cpu),
      enforcement(isolation.disk)
    )
  );
}
