/**
 * What the isolation probe tries to reach on the host, set up by the test: a TCP and a UDP
 * listener on 127.0.0.1 that remember what arrived, a folder outside every run with a marker file,
 * and a sentinel process whose command line carries the marker. Plus the parser of the probe's
 * `probe <what> <result> [detail]` lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capabilityNames } from '../../../src/backends/isolation-facts';

/** Bytes kept of what arrives on a listener: enough for a few probe lines, bounded. */
const MAX_RECEIVED = 64 * 1024;

export interface HostSide {
  tcpPort: number;
  udpPort: number;
  /** Folder outside the server's workspace and state, holding `marker.txt`. */
  folder: string;
  hostFile: string;
  /** What the listeners received since the last `reset()`. */
  tcpReceived(): string;
  udpReceived(): string;
  /** Names in the marker folder. */
  folderEntries(): string[];
  /** Forgets what arrived and removes what a probe wrote into the folder. */
  reset(): void;
  close(): Promise<void>;
}

/** `owner`: who owns the marker folder (default: the test's user). */
export async function startHostSide(
  marker: string,
  owner?: { uid: number; gid: number }
): Promise<HostSide> {
  let tcp = '';
  let udp = '';
  const keep = (seen: string, chunk: Buffer): string =>
    (seen + chunk.toString('utf8')).slice(0, MAX_RECEIVED);
  const tcpServer: Server = createServer(socket => {
    socket.on('data', chunk => (tcp = keep(tcp, chunk)));
    socket.on('error', () => undefined);
    // The probe writes one line and closes; never keep a socket open longer than a run.
    socket.setTimeout(10_000, () => socket.destroy());
  });
  await new Promise<void>(resolve =>
    tcpServer.listen(0, '127.0.0.1', () => resolve())
  );
  const udpSocket: UdpSocket = createSocket('udp4');
  udpSocket.on('message', chunk => (udp = keep(udp, chunk)));
  await new Promise<void>(resolve =>
    udpSocket.bind(0, '127.0.0.1', () => resolve())
  );
  const folder = mkdtempSync(join(tmpdir(), 'reproserver-probe-host-'));
  // Readable by everyone, as a user's files often are: only isolation may keep the probe out.
  chmodSync(folder, 0o755);
  const hostFile = join(folder, 'marker.txt');
  writeFileSync(hostFile, `a host file holding ${marker}\n`, { mode: 0o644 });
  if (owner) {
    chownSync(folder, owner.uid, owner.gid);
    chownSync(hostFile, owner.uid, owner.gid);
  }
  const address = tcpServer.address();
  const tcpPort = typeof address === 'object' && address ? address.port : 0;
  return {
    tcpPort,
    udpPort: udpSocket.address().port,
    folder,
    hostFile,
    tcpReceived: () => tcp,
    udpReceived: () => udp,
    folderEntries: () => readdirSync(folder).sort(),
    reset: () => {
      tcp = '';
      udp = '';
      for (const name of readdirSync(folder)) {
        if (name !== 'marker.txt') {
          rmSync(join(folder, name), { force: true, recursive: true });
        }
      }
    },
    close: async () => {
      await new Promise<void>(resolve => tcpServer.close(() => resolve()));
      await new Promise<void>(resolve => udpSocket.close(() => resolve()));
      rmSync(folder, { recursive: true, force: true });
    }
  };
}

/**
 * A host process that only waits, with the marker on its command line and in its environment (as
 * JupyterLab holds its token in its environment), run as `user` (default: the test's user).
 */
export function startSentinel(
  marker: string,
  user?: { uid: number; gid: number }
): ChildProcess {
  return spawn(
    process.execPath,
    ['-e', 'setInterval(() => {}, 1 << 30)', marker],
    { stdio: 'ignore', env: { REPROSERVER_PROBE_SECRET: marker }, ...user }
  );
}

/** The probe's findings: `probe <what> <result> [detail]` lines, by `<what>`. */
export interface Finding {
  result: string;
  detail: string;
}

export function parseFindings(stdout: string): Map<string, Finding> {
  const findings = new Map<string, Finding>();
  for (const line of stdout.split('\n')) {
    const match = /^probe (\S+) (\S+) ?(.*)$/.exec(line);
    if (match && !findings.has(match[1])) {
      findings.set(match[1], { result: match[2], detail: match[3] });
    }
  }
  return findings;
}

/** Every file under a folder whose name starts with `prefix`, found without following links. */
export function filesNamed(root: string, prefix: string): string[] {
  const found: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith(prefix)) {
        found.push(path);
      }
      try {
        if (lstatSync(path).isDirectory()) {
          pending.push(path);
        }
      } catch {
        // Removed meanwhile.
      }
    }
  }
  return found;
}

/** The `probe caps CapInh=… CapPrm=… CapEff=… CapBnd=… CapAmb=…` finding, as capability names. */
export function capabilitySets(
  finding: Finding | undefined
): Record<string, string[]> {
  if (!finding) {
    throw new Error('the probe said nothing about its capabilities');
  }
  const sets: Record<string, string[]> = {};
  for (const item of `${finding.result} ${finding.detail}`.split(' ')) {
    const match = /^(Cap[A-Za-z]{3})=([0-9a-f]{1,16})$/.exec(item);
    if (match) {
      sets[match[1]] = capabilityNames(BigInt(`0x${match[2]}`));
    }
  }
  if (!sets.CapEff) {
    throw new Error(
      `no CapEff in "probe caps ${finding.result} ${finding.detail}"`
    );
  }
  return sets;
}
