/**
 * Facts about this host that the isolation statement of `GET /api/backends` is built from: Linux
 * capability names, the capabilities this process holds, the kernel's highest capability, and
 * whether unprivileged users may create user namespaces. Each read is of a small /proc file.
 */
import { readFile } from 'node:fs/promises';
import { DROPPED_CAPABILITIES } from './docker/runner';

/** How a backend enforces a resource limit: a cgroup, an rlimit, a periodic measurement, or not. */
export type LimitEnforcement = 'cgroup' | 'rlimit' | 'polling' | 'none';

/** Linux capabilities by bit number (linux/capability.h), without the `CAP_` prefix. */
export const CAPABILITY_NAMES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE'
] as const;

/** What Docker gives a container's root by default (moby `oci/caps/defaults.go`). */
export const DOCKER_DEFAULT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE'
];

/** The capabilities a root step keeps in a container (the runner drops the others), sorted. */
export function dockerRootCapabilities(): string[] {
  return DOCKER_DEFAULT_CAPABILITIES.filter(
    name => !DROPPED_CAPABILITIES.includes(name)
  ).sort();
}

/** Capability names of a mask (a `CapEff:` value of /proc/PID/status), sorted; unknown bits as `CAP_<n>`. */
export function capabilityNames(mask: bigint): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) {
      names.push(CAPABILITY_NAMES[bit] ?? `CAP_${bit}`);
    }
  }
  return names.sort();
}

/** The mask of one `Cap…:` line of a /proc/PID/status text; 0 when it is missing. */
export function capabilityMask(status: string, field = 'CapEff'): bigint {
  const match = new RegExp(`^${field}:\\s*([0-9a-f]{1,16})$`, 'm').exec(status);
  return match ? BigInt(`0x${match[1]}`) : 0n;
}

/** The effective capabilities of this process (the server), which proot passes on unchanged. */
export async function capabilitiesOfThisProcess(): Promise<bigint> {
  try {
    return capabilityMask(await readFile('/proc/self/status', 'utf8'));
  } catch {
    return 0n;
  }
}

/** The kernel's highest capability number: bubblewrap gives a namespace's root all up to it. */
export async function lastCapability(): Promise<number> {
  try {
    const value = Number(
      (await readFile('/proc/sys/kernel/cap_last_cap', 'utf8')).trim()
    );
    return Number.isInteger(value) && value >= 0 && value < 64
      ? value
      : CAPABILITY_NAMES.length - 1;
  } catch {
    return CAPABILITY_NAMES.length - 1;
  }
}

/**
 * Whether an unprivileged process may create a user namespace here: `max_user_namespaces` above 0
 * and, on kernels that have them, Debian's `unprivileged_userns_clone` and Ubuntu's AppArmor
 * restriction not set against it.
 */
export async function userNamespacesAllowed(): Promise<boolean> {
  const read = async (path: string): Promise<string | null> => {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch {
      return null;
    }
  };
  const [max, clone, apparmor] = await Promise.all([
    read('/proc/sys/user/max_user_namespaces'),
    read('/proc/sys/kernel/unprivileged_userns_clone'),
    read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')
  ]);
  return max !== '0' && clone !== '0' && apparmor !== '1';
}
