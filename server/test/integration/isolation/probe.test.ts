/**
 * What an experiment can reach is exactly what `GET /api/backends` says its backend does not
 * isolate — no more, no less. The isolation probe (scripts/examples/isolation-probe, a C program
 * packed by the real reprozip, run 0 as root and run 1 as a non-root user) runs through the real
 * server process on Docker, bubblewrap and proot, with the server as root and (for the sandbox)
 * as an ordinary user, and tries: the host's loopback (TCP and UDP), the server's token in its
 * environment, a sentinel process of the server's user, a host file directly, through
 * /proc/<pid>/root and through io_uring (which proot does not see), the helper's folder,
 * capabilities, device nodes, raw sockets, chroot and nested user namespaces. Sandbox steps are
 * confined by the helper (Landlock, seccomp: `sandbox/confine.ts`) unless `REPROSERVER_CONFINE=off`,
 * whose weak proot must be stated as weak.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  BackendIsolation,
  BackendName,
  BackendsResponse,
  PackageSummary,
  RunEventMessage,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer, type RunningServer } from '../../helpers/server-process';
import {
  capabilitySets,
  filesNamed,
  parseFindings,
  startHostSide,
  startSentinel,
  type Finding,
  type HostSide
} from './host-side';

jest.setTimeout(300_000);

/** Who runs the server: root (as here), and an ordinary user, whose backends promise less. */
interface ServerUser {
  label: string;
  /** Unset: the test's own user. */
  ids?: { uid: number; gid: number };
}
const probe = example('isolation-probe');
const nonRootRun = probe.manifest.package.runs.find(run => run.uid !== 0)!;
const SERVER_USERS: ServerUser[] =
  process.getuid?.() === 0
    ? [
        { label: 'root' },
        {
          // The user make-examples.sh traced the non-root run as: it exists on this host.
          label: `uid ${nonRootRun.uid}`,
          ids: { uid: nonRootRun.uid, gid: nonRootRun.gid }
        }
      ]
    : [{ label: `uid ${process.getuid?.() ?? '?'}` }];

const CONFIGS: {
  name: string;
  backend: BackendName;
  env: Record<string, string>;
  detail: RegExp;
  server: ServerUser;
}[] = [
  // A server that is not root cannot reach this host's Docker socket.
  {
    name: 'Docker',
    backend: 'docker',
    env: {},
    detail: /^Docker Engine/,
    server: SERVER_USERS[0]
  },
  // The same backend on rootless Podman's compatible API (`scripts/services/podman.sh`).
  {
    name: 'Podman',
    backend: 'docker',
    env: { DOCKER_SOCKET: process.env.PODMAN_SOCKET ?? '' },
    detail: /^Podman \d+\.\d+\.\d+ \(rootless\) at /,
    server: SERVER_USERS[0]
  },
  ...SERVER_USERS.flatMap(server => [
    {
      name: 'bubblewrap',
      backend: 'sandbox' as const,
      env: { REPROSERVER_SANDBOX: 'bwrap' },
      detail: /bubblewrap/,
      server
    },
    {
      name: 'proot',
      backend: 'sandbox' as const,
      env: { REPROSERVER_SANDBOX: 'proot' } as Record<string, string>,
      detail: /proot/,
      server
    },
    {
      name: 'proot unconfined',
      backend: 'sandbox' as const,
      env: { REPROSERVER_SANDBOX: 'proot', REPROSERVER_CONFINE: 'off' },
      detail:
        /proot .*steps not confined: turned off by REPROSERVER_CONFINE=off/,
      server
    }
  ])
];

/**
 * With REPROSERVER_PROBE_REPORT naming a file, each probe's findings are appended to it, one
 * line per backend, server user and step: what each backend let the probe reach on this host.
 */
function reportFindings(title: string, findings: Map<string, Finding>): void {
  const file = process.env.REPROSERVER_PROBE_REPORT;
  if (file) {
    const parts = [...findings]
      .filter(([what]) => !['ids', 'caps', 'done'].includes(what))
      .map(([what, finding]) => `${what}=${finding.result}`);
    appendFileSync(file, `${title}: ${parts.join(' ')}\n`);
  }
}

/** The capabilities issue #11 takes from a container's root (bubblewrap leaves them out too). */
const DROPPED_FROM_DOCKER_ROOT = [
  'MKNOD',
  'NET_RAW',
  'SETFCAP',
  'AUDIT_WRITE',
  'SYS_CHROOT'
];

const STEPS = probe.manifest.package.runs.map((run, step) => ({
  step,
  user: run.uid === 0 ? 'root' : 'a non-root user',
  uid: run.uid
}));

describe.each(CONFIGS)(
  'isolation on $name, server as $server.label',
  config => {
    const token = `probe-token-${randomBytes(12).toString('hex')}`;
    let server: RunningServer;
    let api: ApiClient;
    let host: HostSide;
    let sentinel: ChildProcess;
    let packageSha: string;
    let statement: BackendIsolation;
    let workspace: string | undefined;
    let stateDir: string | undefined;

    beforeAll(async () => {
      const user = config.server.ids;
      // The host's files, processes and folders at stake are the server's user's own.
      host = await startHostSide(token, user);
      sentinel = startSentinel(token, user);
      workspace = mkdtempSync(join(tmpdir(), 'reproserver-probe-ws-'));
      mkdirSync(join(workspace, 'packages'));
      copyFileSync(probe.rpz, join(workspace, 'packages', 'probe.rpz'));
      stateDir = mkdtempSync(join(tmpdir(), 'reproserver-probe-state-'));
      if (user) {
        for (const path of [workspace, join(workspace, 'packages'), stateDir]) {
          chownSync(path, user.uid, user.gid);
        }
      }
      server = await startServer(
        {
          REPROSERVER_WORKSPACE: workspace,
          ...(user ? { HOME: stateDir } : {}),
          ...config.env
        },
        { token, stateDir, user }
      );
      api = new ApiClient(server);
      const backends = await api.call<BackendsResponse>('GET', '/api/backends');
      expect(backends.status).toBe(200);
      const status = backends.body.backends.find(
        b => b.name === config.backend
      );
      if (!status?.available || !status.isolation) {
        throw new Error(
          `${config.name} does not work here: ${status?.detail ?? 'not listed'}`
        );
      }
      expect(status.detail).toMatch(config.detail);
      statement = status.isolation;
      const registered = await api.call<PackageSummary>(
        'POST',
        '/api/packages',
        {
          path: 'packages/probe.rpz'
        }
      );
      expect(registered.status).toBe(200);
      packageSha = registered.body.sha256;
    });

    afterAll(async () => {
      sentinel?.kill();
      await server?.stop();
      await host?.close();
      for (const dir of [workspace, stateDir]) {
        if (dir) {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });

    it('states what it isolates the way this backend can', () => {
      // What each mechanism does, whatever the host; the probe checks the rest.
      if (config.backend === 'docker') {
        expect(statement.confinement ?? null).toBeNull();
      } else if (config.env.REPROSERVER_CONFINE === 'off') {
        expect(statement.confinement).toBeNull();
      } else {
        // This machine has Landlock (ABI 7) and seccomp: every sandbox step is confined.
        expect(statement.confinement).toEqual({
          landlockAbi: expect.any(Number),
          seccomp: true,
          processSecrets: true,
          signals: true
        });
        expect(statement.confinement!.landlockAbi).toBeGreaterThanOrEqual(6);
        expect(statement.nestedUserNamespaces).toBe(false);
      }
      if (config.name.startsWith('proot')) {
        const confined = config.name === 'proot';
        // A step is the server's user, with its capabilities (none: it is not root), or, when the
        // server is root, an unprivileged user of the run's own: never the host's root.
        const asRoot = process.getuid?.() === 0 && !config.server.ids;
        expect(statement.capabilities).toEqual({
          scope: 'host',
          root: [],
          nonRoot: []
        });
        // Confined: the host's files and network out of reach; its processes still visible.
        expect(statement).toMatchObject({
          files: confined,
          network: confined,
          processes: false,
          capabilities: { scope: 'host' },
          hostUser: asRoot ? 'unprivileged' : 'server'
        });
      } else {
        expect(statement).toMatchObject({
          files: true,
          network: true,
          processes: true,
          capabilities: {
            scope: config.backend === 'docker' ? 'container' : 'user-namespace',
            nonRoot: []
          }
        });
        expect(statement.hostUser).toBeUndefined();
      }
      if (config.backend === 'docker') {
        // Docker's seccomp profile refuses new user namespaces; Podman's (containers-common)
        // allows them, and the probe's own attempt checks the statement below.
        expect(statement.nestedUserNamespaces).toBe(config.name === 'Podman');
        for (const name of DROPPED_FROM_DOCKER_ROOT) {
          expect(statement.capabilities.root).not.toContain(name);
        }
      }
    });

    describe.each(STEPS)('as $user', ({ step, uid, user }) => {
      let findings: Map<string, Finding>;
      let stdout: string;

      beforeAll(async () => {
        host.reset();
        const created = await api.call<RunRecord>('POST', '/api/runs', {
          package: packageSha,
          backend: config.backend,
          // Confined backends isolate files + network: only the weak one needs consent.
          ...(config.env.REPROSERVER_CONFINE === 'off'
            ? { acceptWeakIsolation: true }
            : {}),
          edits: {
            steps: [step],
            stepEdits: [
              {
                step,
                argv: [
                  './probe',
                  String(host.tcpPort),
                  String(host.udpPort),
                  token,
                  host.hostFile
                ]
              }
            ]
          }
        });
        expect(created.status).toBe(202);
        const run = await api.waitForEnd(created.body.id, 240_000);
        const events = await api.call('GET', `/api/runs/${run.id}/events`);
        const messages = events.text
          .trim()
          .split('\n')
          .map(line => JSON.parse(line) as RunEventMessage);
        stdout = messages
          .map(m => m.event)
          .flatMap(e =>
            e.type === 'log' && e.stream === 'stdout' ? [e.text] : []
          )
          .join('');
        const stderr = messages
          .map(m => m.event)
          .flatMap(e =>
            e.type === 'log' && e.stream === 'stderr' ? [e.text] : []
          )
          .join('');
        expect({
          status: run.status,
          reason: run.reason,
          stderr,
          stdout
        }).toEqual({
          status: 'succeeded',
          reason: null,
          stderr: '',
          stdout: expect.stringContaining('probe done\n')
        });
        findings = parseFindings(stdout);
        reportFindings(
          `${config.name}, server as ${config.server.label}, step as ${user}`,
          findings
        );
        // A datagram may arrive a little after the run ends.
        await new Promise(resolve => setTimeout(resolve, 300));
      });

      const result = (what: string): string => {
        const finding = findings.get(what);
        if (!finding) {
          throw new Error(`the probe said nothing about ${what}:\n${stdout}`);
        }
        return finding.result;
      };

      it('runs as the recorded user', () => {
        expect(findings.get('ids')?.result).toBe(`uid=${uid}`);
      });

      it('reaches the host network exactly when it is not isolated', () => {
        expect({
          probe: result('network'),
          tcp: host.tcpReceived().includes(token),
          udp: host.udpReceived().includes(token)
        }).toEqual(
          statement.network
            ? { probe: 'blocked', tcp: false, udp: false }
            : { probe: 'reachable', tcp: true, udp: true }
        );
      });

      it("reaches the server's token, a process's secrets and host processes exactly when they are not isolated", () => {
        expect({
          secret: result('secret'),
          sentinel: result('foreign-process'),
          signal: result('signal-foreign')
        }).toEqual(
          statement.processes
            ? {
                secret: 'not-found',
                sentinel: 'invisible',
                signal: 'no-target'
              }
            : {
                // Seen, but out of reach: another user's (no environments, no signals), or
                // confined (Landlock keeps the server's environment and signals out of reach).
                secret:
                  statement.hostUser === 'unprivileged' ||
                  statement.confinement?.processSecrets
                    ? 'not-found'
                    : 'found-in',
                sentinel: 'visible',
                signal:
                  statement.hostUser === 'unprivileged' ||
                  statement.confinement?.signals
                    ? 'denied'
                    : 'ok'
              }
        );
      });

      it('reads and writes host files exactly when they are not isolated', () => {
        expect({
          read: result('host-file'),
          write: result('host-write'),
          folder: host.folderEntries()
        }).toEqual(
          statement.files
            ? { read: 'unreadable', write: 'denied', folder: ['marker.txt'] }
            : statement.hostUser === 'unprivileged'
              ? // The marker is readable by every user; its folder writable by its owner only.
                { read: 'readable', write: 'denied', folder: ['marker.txt'] }
              : {
                  read: 'readable',
                  write: 'ok',
                  folder: ['marker.txt', 'probe-wrote']
                }
        );
      });

      it("writes nothing into the server's state folder through the helper's folder", () => {
        expect(findings.has('write-helper-dir')).toBe(true);
        expect(filesNamed(server.stateDir, 'probe-wrote')).toEqual([]);
      });

      it('holds exactly the capabilities stated, and can do only what they allow', () => {
        const effective = capabilitySets(findings.get('caps')).CapEff;
        const stated =
          uid === 0
            ? statement.capabilities.root
            : statement.capabilities.nonRoot;
        expect(effective).toEqual(stated);
        const can = (name: string): string =>
          stated.includes(name) ? 'ok' : 'denied';
        expect({
          rawSocket: result('raw-socket'),
          chroot: result('chroot'),
          // A device node that works (proot's fake root only pretends to make one: "inert").
          mknod: result('mknod') === 'ok' ? 'ok' : 'denied',
          userns: result('userns')
        }).toEqual({
          rawSocket: can('NET_RAW'),
          chroot: can('SYS_CHROOT'),
          // The kernel refuses device nodes to a user namespace's root, whatever it holds.
          mknod:
            statement.capabilities.scope === 'user-namespace'
              ? 'denied'
              : can('MKNOD'),
          userns: statement.nestedUserNamespaces ? 'ok' : 'denied'
        });
      });

      if (uid !== 0) {
        it('issue #11: a non-root step has no capabilities at all', () => {
          expect(capabilitySets(findings.get('caps')).CapEff).toEqual([]);
          expect(result('mknod')).not.toBe('ok');
          expect(result('raw-socket')).toBe('denied');
        });
      } else if (!config.name.startsWith('proot')) {
        it(`issue #11: a root step lacks ${DROPPED_FROM_DOCKER_ROOT.join(', ')}`, () => {
          const effective = capabilitySets(findings.get('caps')).CapEff;
          for (const name of DROPPED_FROM_DOCKER_ROOT) {
            expect(effective).not.toContain(name);
          }
          expect(effective).not.toContain('SYS_ADMIN');
          expect(result('mknod')).not.toBe('ok');
          expect(result('raw-socket')).toBe('denied');
          expect(result('chroot')).toBe('denied');
        });
      }
    });
  }
);
