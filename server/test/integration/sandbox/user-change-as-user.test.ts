/**
 * Experiments that change user, with the companion server run by an ordinary user, as on a
 * JupyterHub pod: bubblewrap maps the user's /etc/subuid range through `newuidmap` when it is
 * installed (else it emulates, like proot), and the steps' output is what the real experiment
 * printed when it was traced (the manifest's, the same as on Docker). The real server process,
 * packages made by the real reprozip.
 */
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  BackendsResponse,
  PackageSummary,
  RunEventMessage,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer, type RunningServer } from '../../helpers/server-process';
import { requireRoot } from '../../helpers/requires-root';

jest.setTimeout(300_000);

const PACKAGES = ['drop-user', 'user-files'];

// The user make-examples.sh traces non-root runs as; it has an /etc/subuid range here.
const user = example('user-files').manifest.package.runs[0];

const CONFIGS = [
  { mechanism: 'bwrap', ids: /ids: a mapped range|emulated/ },
  { mechanism: 'proot', ids: /emulated by a supervisor/ }
];

describe.each(CONFIGS)(
  'steps that change user, server as uid 1001, on $mechanism',
  ({ mechanism, ids }) => {
    let server: RunningServer;
    let api: ApiClient;
    let folder: string;
    let state: string;

    beforeAll(async () => {
      requireRoot('A server as another user');
      folder = mkdtempSync(join(tmpdir(), 'reproserver-as-user-'));
      const workspace = join(folder, 'workspace');
      state = join(folder, 'state');
      mkdirSync(join(workspace, 'packages'), { recursive: true });
      mkdirSync(state);
      for (const name of PACKAGES) {
        copyFileSync(
          example(name).rpz,
          join(workspace, 'packages', `${name}.rpz`)
        );
      }
      for (const path of [
        folder,
        workspace,
        join(workspace, 'packages'),
        state
      ]) {
        chownSync(path, user.uid, user.gid);
      }
      server = await startServer(
        {
          REPROSERVER_WORKSPACE: workspace,
          REPROSERVER_SANDBOX: mechanism,
          HOME: state
        },
        { stateDir: state, user: { uid: user.uid, gid: user.gid } }
      );
      api = new ApiClient(server);
    });

    afterAll(async () => {
      await server?.stop();
      rmSync(folder, { recursive: true, force: true });
    });

    it('says how it handles ids', async () => {
      const reply = await api.call<BackendsResponse>('GET', '/api/backends');
      const sandbox = reply.body.backends.find(b => b.name === 'sandbox')!;
      expect(sandbox.detail).toContain(
        `Sandbox: ${mechanism === 'bwrap' ? 'bubblewrap' : 'proot'}`
      );
      expect(sandbox.detail).toMatch(ids);
    });

    /** The events of a run, in order. */
    const eventsOf = async (id: string): Promise<RunEventMessage['event'][]> =>
      (await api.call('GET', `/api/runs/${id}/events`)).text
        .trim()
        .split('\n')
        .map(line => (JSON.parse(line) as RunEventMessage).event);

    it("gives back what the step's user made, owned by that user, from a folder the server may not enter", async () => {
      // drop-user's step writes out/note.txt and out/sub/secret.txt (0600) as the package's
      // user, in `out` (0750): to the server, another user on the host, neither is readable.
      const registered = await api.call<PackageSummary>(
        'POST',
        '/api/packages',
        { path: 'packages/drop-user.rpz' }
      );
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: registered.body.sha256,
        backend: 'sandbox'
      });
      expect(created.status).toBe(202);
      const run = await api.waitForEnd(created.body.id, 240_000);
      expect({ status: run.status, reason: run.reason }).toEqual({
        status: 'succeeded',
        reason: null
      });
      const events = await eventsOf(run.id);
      expect(events.filter(e => e.type === 'output-missing')).toEqual([]);
      const owners = events.flatMap(e =>
        e.type === 'output' && e.kind === 'declared'
          ? [{ name: e.name, uid: e.uid, gid: e.gid, mode: e.mode }]
          : []
      );
      expect(
        owners
          .filter(o => o.name !== 'arg')
          .sort((a, b) => a.name.localeCompare(b.name))
      ).toEqual([
        { name: 'note.txt', uid: user.uid, gid: user.gid, mode: 0o644 },
        { name: 'secret.txt', uid: user.uid, gid: user.gid, mode: 0o600 }
      ]);
      const secret = await api.call(
        'GET',
        `/api/runs/${run.id}/outputs/secret.txt`
      );
      expect({ status: secret.status, text: secret.text }).toEqual({
        status: 200,
        text: 'private\n'
      });
    });

    /**
     * Starts drop-user with its step replaced: in a folder `out` of the package's user, `inner`
     * runs as that user (a shell command line, single quotes excluded).
     */
    const startAsPackageUser = async (inner: string): Promise<string> => {
      const registered = await api.call<PackageSummary>(
        'POST',
        '/api/packages',
        { path: 'packages/drop-user.rpz' }
      );
      const script =
        'mkdir -p out && chown reproserver-example:reproserver-example out && ' +
        'setpriv --reuid=reproserver-example --regid=reproserver-example --init-groups ' +
        `sh -c '${inner}'`;
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: registered.body.sha256,
        backend: 'sandbox',
        edits: { stepEdits: [{ step: 0, argv: ['sh', '-c', script] }] }
      });
      expect(created.status).toBe(202);
      return created.body.id;
    };

    it('gives back files whose names are not UTF-8, as other files', async () => {
      // "caf\xe9" (Latin-1), then an ordinary file beside it.
      const id = await startAsPackageUser(
        'echo x > "out/$(printf "caf\\351")" && echo y > out/plain.txt'
      );
      const run = await api.waitForEnd(id, 60_000);
      expect({ status: run.status, reason: run.reason }).toEqual({
        status: 'succeeded',
        reason: null
      });
      const plain = (await eventsOf(run.id)).find(
        e => e.type === 'output' && e.path.endsWith('/out/plain.txt')
      );
      expect(plain).toMatchObject({ uid: user.uid, gid: user.gid });
    });

    it('leaves nothing of a cancelled run, a folder its step kept to itself included', async () => {
      // A folder only the package's user may enter, then a step that never ends.
      const id = await startAsPackageUser(
        'mkdir -m 700 out/private && echo kept > out/private/f && echo made && while :; do :; done'
      );
      for (let i = 0; i < 300; i++) {
        const events = await eventsOf(id).catch(() => []);
        if (events.some(e => e.type === 'log' && e.text.includes('made'))) {
          break;
        }
        await new Promise(resolve => setTimeout(resolve, 50));
      }
      await api.call('POST', `/api/runs/${id}/cancel`);
      const run = await api.waitForEnd(id, 60_000);
      expect(run.status).toBe('cancelled');
      const runs = join(state, 'sandbox', 'runs');
      const left = (): string[] => (existsSync(runs) ? readdirSync(runs) : []);
      for (let i = 0; i < 100 && left().length > 0; i++) {
        await new Promise(resolve => setTimeout(resolve, 50));
      }
      expect(left()).toEqual([]);
    });

    it.each(PACKAGES)('runs %s as it ran when traced', async name => {
      const registered = await api.call<PackageSummary>(
        'POST',
        '/api/packages',
        {
          path: `packages/${name}.rpz`
        }
      );
      expect(registered.status).toBe(200);
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: registered.body.sha256,
        backend: 'sandbox'
      });
      expect(created.status).toBe(202);
      const run = await api.waitForEnd(created.body.id, 240_000);
      const events = await api.call('GET', `/api/runs/${run.id}/events`);
      const logs = events.text
        .trim()
        .split('\n')
        .map(line => (JSON.parse(line) as RunEventMessage).event);
      const text = (stream: string): string =>
        logs
          .flatMap(e =>
            e.type === 'log' && e.stream === stream ? [e.text] : []
          )
          .join('');
      expect({
        status: run.status,
        reason: run.reason,
        stderr: text('stderr')
      }).toEqual({
        status: 'succeeded',
        reason: null,
        stderr: ''
      });
      const expected = example(name).manifest.runs.flatMap(r => r.stdout);
      expect(text('stdout').split('\n').filter(Boolean)).toEqual(expected);
    });
  }
);
