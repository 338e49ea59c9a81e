import { DROPPED_CAPABILITIES } from '../../../src/backends/docker/runner';
import {
  dockerIsolation,
  sandboxIsolation
} from '../../../src/backends/detect';
import {
  CAPABILITY_NAMES,
  capabilityMask,
  capabilityNames
} from '../../../src/backends/isolation-facts';
import type { SandboxStatus } from '../../../src/backends/sandbox/detect';

describe('capability masks', () => {
  it('names each bit as linux/capability.h numbers it', () => {
    // What a default Docker container's root holds (14 capabilities).
    expect(capabilityNames(0xa80425fbn)).toEqual(
      [
        'AUDIT_WRITE',
        'CHOWN',
        'DAC_OVERRIDE',
        'FOWNER',
        'FSETID',
        'KILL',
        'MKNOD',
        'NET_BIND_SERVICE',
        'NET_RAW',
        'SETFCAP',
        'SETGID',
        'SETPCAP',
        'SETUID',
        'SYS_CHROOT'
      ].sort()
    );
    expect(capabilityNames(0n)).toEqual([]);
    expect(capabilityNames(1n << 40n)).toEqual(['CHECKPOINT_RESTORE']);
    expect(capabilityNames(1n << 45n)).toEqual(['CAP_45']);
    expect(CAPABILITY_NAMES).toHaveLength(41);
  });

  it('reads a field of /proc/PID/status, and nothing else', () => {
    const status =
      'Name:\tx\nCapPrm:\t00000000000005fb\nCapEff:\t0000000000000001\n';
    expect(capabilityMask(status)).toBe(1n);
    expect(capabilityMask(status, 'CapPrm')).toBe(0x5fbn);
    expect(capabilityMask('CapEff:\tnot-hex\n')).toBe(0n);
    expect(capabilityMask('')).toBe(0n);
  });
});

describe('isolation statements', () => {
  it('Docker: everything isolated, a root step without the dropped capabilities', () => {
    const statement = dockerIsolation();
    expect(statement).toMatchObject({
      files: true,
      network: true,
      processes: true,
      nestedUserNamespaces: false,
      capabilities: { scope: 'container', nonRoot: [] },
      memory: 'cgroup',
      cpu: 'cgroup',
      disk: 'polling'
    });
    for (const name of [...DROPPED_CAPABILITIES, 'SYS_ADMIN', 'NET_ADMIN']) {
      expect(statement.capabilities.root).not.toContain(name);
    }
    expect(statement.capabilities.root).toContain('CHOWN');
  });

  const sandbox = (facts: Partial<SandboxStatus>): SandboxStatus => ({
    available: true,
    mechanism: 'bwrap',
    detail: 'Sandbox',
    limits: 'cgroup-v2',
    ...facts
  });

  it('bubblewrap: files, network and processes isolated; what the probe found', async () => {
    const statement = await sandboxIsolation(
      sandbox({
        disableUserns: true,
        rootCapabilities: ['CHOWN', 'SETUID'],
        diskLimit: 'polling'
      })
    );
    expect(statement).toEqual({
      files: true,
      network: true,
      processes: true,
      confinement: null,
      nestedUserNamespaces: false,
      capabilities: {
        scope: 'user-namespace',
        root: ['CHOWN', 'SETUID'],
        nonRoot: []
      },
      memory: 'cgroup',
      cpu: 'cgroup',
      disk: 'polling'
    });
    // Without --disable-userns nor a capability list: bubblewrap's own behaviour, said as such.
    const plain = await sandboxIsolation(
      sandbox({ limits: 'rlimit', prlimit: '/usr/bin/prlimit' })
    );
    expect(plain.nestedUserNamespaces).toBe(true);
    expect(plain.capabilities.root).toEqual(
      expect.arrayContaining(['SYS_ADMIN', 'CHOWN'])
    );
    expect(plain).toMatchObject({
      memory: 'rlimit',
      cpu: 'none',
      disk: 'none'
    });
  });

  it("proot: nothing isolated but the view of /; steps have the server's capabilities", async () => {
    const statement = await sandboxIsolation(
      sandbox({ mechanism: 'proot', limits: 'rlimit' })
    );
    expect(statement).toMatchObject({
      files: false,
      network: false,
      processes: false,
      capabilities: { scope: 'host' },
      memory: 'none',
      cpu: 'none'
    });
    expect(statement.capabilities.nonRoot).toEqual(statement.capabilities.root);
    expect(statement.hostUser).toBe('server');
  });

  it('proot under a root server: each run an unprivileged user of its own, without capabilities', async () => {
    const statement = await sandboxIsolation(
      sandbox({
        mechanism: 'proot',
        limits: 'rlimit',
        runUser: {
          setpriv: '/usr/bin/setpriv',
          uidBase: 2_147_000_000,
          runsDir: '/var/tmp'
        }
      })
    );
    expect(statement).toMatchObject({
      files: false,
      network: false,
      processes: false,
      capabilities: { scope: 'host', root: [], nonRoot: [] },
      hostUser: 'unprivileged'
    });
  });
});
