import './dom-polyfills';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { ReproServerClient } from '../api/client';
import { ReproServerError } from '../api/client';
import type { BackendIsolation } from 'reproserver/contract';
import { ConsentMemory, type IConsentRequest } from '../model/consent';
import { PackageSession } from '../model/package';
import { RpzPanel, type IPanelServices } from '../panel/panel';
import { savedFile } from '../panel/run';
import { EXTENSION_VERSION } from '../model/version';
import {
  BACKENDS,
  EventLog,
  FakeSocket,
  SHA,
  packageDetails,
  runRecord
} from './fixtures';

/** Lets pending promises and zero-delay timers run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

function fakeClient(overrides: Partial<Record<string, unknown>> = {}) {
  const sockets: FakeSocket[] = [];
  const calls: { name: string; args: unknown[] }[] = [];
  const record = (name: string, value: unknown) =>
    jest.fn(async (...args: unknown[]) => {
      calls.push({ name, args });
      if (value instanceof Error) {
        throw value;
      }
      return typeof value === 'function' ? value(...args) : value;
    });
  const client = {
    sockets,
    calls,
    backends: record('backends', BACKENDS),
    version: record('version', {
      name: 'reproserver',
      version: EXTENSION_VERSION,
      node: 'v20.0.0'
    }),
    registerPackage: record('registerPackage', {
      sha256: SHA,
      name: 'shell-pipeline.rpz',
      size: 1,
      path: 'work/shell-pipeline.rpz',
      createdAt: ''
    }),
    getPackage: record('getPackage', packageDetails()),
    listRuns: record('listRuns', { runs: [] }),
    createRun: record('createRun', runRecord()),
    cancelRun: record('cancelRun', runRecord({ status: 'cancelled' })),
    getRun: record(
      'getRun',
      runRecord({
        status: 'succeeded',
        outputs: [
          {
            name: 'top-words.txt',
            path: '/tmp/top-words.txt',
            kind: 'declared',
            size: 12,
            sha256: 'c'.repeat(64)
          }
        ]
      })
    ),
    saveOutputs: record('saveOutputs', {
      folder: 'work/shell-pipeline.rpz.runs/r1',
      files: ['work/shell-pipeline.rpz.runs/r1/top-words.txt'],
      skipped: []
    }),
    upload: record('upload', { sha256: 'd'.repeat(64), size: 5 }),
    openEvents(id: string, offset: number) {
      const socket = new FakeSocket(id, offset);
      sockets.push(socket);
      return socket;
    },
    ...overrides
  };
  return client;
}

function services(): IPanelServices & { opened: string[]; copied: string[] } {
  const opened: string[] = [];
  const copied: string[] = [];
  return {
    trans: nullTranslator.load('jupyterlab_reproserver'),
    opened,
    copied,
    openFile: path => opened.push(path),
    openFolder: path => opened.push(path + '/'),
    copy: text => copied.push(text),
    pickWorkspaceFile: async () => 'data/other.txt',
    contents: { save: jest.fn(async () => ({})) }
  };
}

/** A server whose only backend is a sandbox isolating as given, under the given policy. */
function sandboxServer(
  isolation: BackendIsolation,
  weakIsolation: 'ask' | 'refuse' = 'ask'
) {
  return fakeClient({
    backends: jest.fn(async () => ({
      backends: [
        { name: 'sandbox', available: true, detail: 'Sandbox', isolation }
      ],
      default: 'sandbox',
      weakIsolation
    }))
  });
}

async function openPanel(
  client: ReturnType<typeof fakeClient>,
  extra: Partial<IPanelServices> = {}
) {
  const s = { ...services(), ...extra };
  const session = new PackageSession(
    client as unknown as ReproServerClient,
    'work/shell-pipeline.rpz',
    {
      limits: { memoryMiB: 1024, timeoutSeconds: 600 },
      backend: 'sandbox',
      outputFolder: '',
      autoSave: true
    },
    { minDelayMs: 10 }
  );
  const panel = new RpzPanel(session, s);
  Widget.attach(panel, document.body);
  await session.load();
  await flush();
  return { panel, services: s, node: panel.node };
}

function click(node: Element | null): void {
  if (!node) {
    throw new Error('nothing to click');
  }
  (node as HTMLElement).click();
}

function buttonByText(root: HTMLElement, text: string): HTMLButtonElement {
  const found = [...root.querySelectorAll('button')].find(
    b => b.textContent === text
  );
  if (!found) {
    throw new Error(`no button "${text}"`);
  }
  return found;
}

describe('RpzPanel', () => {
  afterEach(() => {
    document.body.replaceChildren();
  });

  it('shows the overview of the package', async () => {
    const client = fakeClient();
    const { panel, node } = await openPanel(client);
    expect(client.registerPackage).toHaveBeenCalledWith(
      'work/shell-pipeline.rpz'
    );
    expect(node.querySelector('.jp-ReproServer-title')?.textContent).toBe(
      'shell-pipeline.rpz'
    );
    const facts = node.querySelector('.jp-ReproServer-facts')!.textContent;
    expect(facts).toContain('debian 12');
    expect(facts).toContain('x86_64');
    expect(
      node.querySelector('.jp-ReproServer-warnings')?.textContent
    ).toContain('An odd but harmless thing.');
    expect(
      [...node.querySelectorAll('.jp-ReproServer-cmdline')].map(
        c => c.textContent
      )
    ).toEqual([
      'sh wordfreq.sh words.txt 3',
      'python3 fit.py --n 5 --mode=fast'
    ]);
    expect(
      node.querySelector('.jp-ReproServer-provenance')?.textContent
    ).toContain('3 processes, 2 programs, 1 file read, 1 file written');
    panel.dispose();
  });

  it('edits an argument, marks it changed and resets it', async () => {
    const client = fakeClient();
    const { panel, node } = await openPanel(client);
    panel.selectTab('parameters');
    const step0 = node.querySelector('[data-step="0"]') as HTMLElement;
    const row = step0.querySelector('.jp-ReproServer-field[data-index="3"]')!;
    const input = row.querySelector('input') as HTMLInputElement;
    expect(input.type).toBe('number');
    expect(
      step0.querySelector('.jp-ReproServer-field[data-index="2"]')!.className
    ).toContain('jp-ReproServer-field-file');
    input.value = '2';
    input.dispatchEvent(new Event('input'));
    expect(row.classList.contains('jp-mod-changed')).toBe(true);
    expect(step0.classList.contains('jp-mod-changed')).toBe(true);
    expect(panel.session.edits!.toRunEdits().stepEdits).toEqual([
      { step: 0, args: [{ index: 3, value: '2' }] }
    ]);
    click(row.querySelector('.jp-ReproServer-reset'));
    const again = node.querySelector(
      '[data-step="0"] .jp-ReproServer-field[data-index="3"]'
    )!;
    expect(again.classList.contains('jp-mod-changed')).toBe(false);
    expect((again.querySelector('input') as HTMLInputElement).value).toBe('3');
    panel.dispose();
  });

  it('replaces an input with a workspace file and with an upload', async () => {
    const client = fakeClient();
    const { panel, node } = await openPanel(client);
    panel.selectTab('inputs');
    const slot = () => node.querySelector('[data-input="arg2"]') as HTMLElement;
    // The original's path and packed size, as the server measured it.
    expect(slot().querySelector('.jp-ReproServer-inputSize')?.textContent).toBe(
      '2.0 KiB'
    );
    click(buttonByText(slot(), 'Choose from workspace…'));
    await flush();
    expect(slot().textContent).toContain('Replaced by data/other.txt');
    expect(panel.session.edits!.toRunEdits().inputs).toEqual([
      { name: 'arg2', source: { kind: 'workspace', path: 'data/other.txt' } }
    ]);
    // A file of the computer goes into the workspace beside the package, then is used by path.
    await panel.session.replaceInputWithUpload(
      'arg2',
      new File(['a b'], 'mine.txt')
    );
    expect(slot().textContent).toContain(
      'Replaced by work/reproserver-uploads/mine.txt'
    );
    expect(panel.session.edits!.toRunEdits().inputs![0].source).toEqual({
      kind: 'workspace',
      path: 'work/reproserver-uploads/mine.txt'
    });
    expect(client.upload).not.toHaveBeenCalled();
    click(buttonByText(slot(), 'Reset'));
    expect(slot().textContent).toContain('Original file from the package');
    panel.dispose();
  });

  it('shows the progress of an upload into the workspace, chunk by chunk', async () => {
    const client = fakeClient();
    // Each save waits until the test lets it through.
    const pending: (() => void)[] = [];
    const saved: { path: string; chunk?: number }[] = [];
    const contents = {
      save: jest.fn(
        (path: string, options: { type: string; chunk?: number }) =>
          new Promise(resolve => {
            if (options.type === 'file') {
              saved.push({ path, chunk: options.chunk });
            }
            pending.push(() => resolve({}));
          })
      )
    };
    const { panel, node } = await openPanel(client, { contents });
    panel.selectTab('inputs');
    const slot = () => node.querySelector('[data-input="arg2"]') as HTMLElement;
    // Three chunks of 1 MiB and a bit.
    const file = new File([new Uint8Array(2 * 1024 * 1024 + 10)], 'big.bin');
    const done = panel.session.replaceInputWithUpload('arg2', file);
    await flush();
    expect(slot().textContent).toContain('Uploading into the workspace… 0%');
    expect(slot().querySelector('progress')?.getAttribute('max')).toBe('100');
    // The folder, then chunk 1 and 2.
    pending.shift()!();
    await flush();
    pending.shift()!();
    await flush();
    expect(slot().textContent).toContain('Uploading into the workspace… 49%');
    while (pending.length > 0) {
      pending.shift()!();
      await flush();
    }
    await done;
    expect(saved.map(x => x.chunk)).toEqual([1, 2, -1]);
    expect(slot().textContent).toContain(
      'Replaced by work/reproserver-uploads/big.bin'
    );
    expect(slot().querySelector('progress')).toBeNull();
    panel.dispose();
  });

  it('runs, shows build progress and the live log, then the saved outputs', async () => {
    const client = fakeClient();
    const { panel, node, services: s } = await openPanel(client);
    panel.selectTab('parameters');
    const input = node.querySelector(
      '[data-step="0"] .jp-ReproServer-field[data-index="3"] input'
    ) as HTMLInputElement;
    input.value = '2';
    input.dispatchEvent(new Event('input'));
    click(node.querySelector('.jp-ReproServer-run-button'));
    await flush();
    expect(panel.currentTab).toBe('run');
    const request = client.createRun.mock.calls[0][0] as {
      edits: { stepEdits: unknown; limits: unknown };
      backend: string;
    };
    // The backend chosen in the settings.
    expect(request.backend).toBe('sandbox');
    expect(request.edits.stepEdits).toEqual([
      { step: 0, args: [{ index: 3, value: '2' }] }
    ]);
    expect(request.edits.limits).toEqual({
      memoryMiB: 1024,
      timeoutSeconds: 600
    });

    const socket = client.sockets[0];
    socket.open();
    const log = new EventLog();
    socket.send(log.add({ type: 'status', status: 'building' }));
    // The image build's progress comes in the run's own log.
    socket.send(
      log.add({
        type: 'build',
        build: {
          type: 'progress',
          time: '',
          phase: 'building',
          bytes: 512 * 1024,
          totalBytes: 1024 * 1024,
          entries: 3
        }
      })
    );
    await flush();
    expect(node.querySelector('.jp-ReproServer-build')?.textContent).toContain(
      '512.0 KiB of 1.0 MiB'
    );
    // Nothing is polled: the events are the only source.
    expect(client.calls.map(c => c.name)).not.toContain('getBuild');
    socket.send(log.add({ type: 'status', status: 'running' }));
    socket.send(
      log.add({ type: 'step-start', step: 0, id: 'run0', argv: ['sh'] })
    );
    socket.send(
      log.add({ type: 'log', step: 0, stream: 'stdout', text: 'the 7\n' })
    );
    socket.send(
      log.add({
        type: 'log',
        step: 0,
        stream: 'stderr',
        text: '\x1b[33mslow\x1b[0m\n'
      })
    );
    expect(node.querySelector('.jp-ReproServer-build')).toBeNull();
    expect(
      node.querySelector('pre .jp-ReproServer-log-stdout')?.textContent
    ).toBe('the 7\n');
    const stderr = node.querySelector('pre .jp-ReproServer-log-stderr')!;
    expect(stderr.querySelector('.jp-ReproServer-ansi-fg3')?.textContent).toBe(
      'slow'
    );
    expect(
      node
        .querySelector('.jp-ReproServer-cancel-button')!
        .hasAttribute('disabled')
    ).toBe(false);

    // Search highlights matches.
    const search = node.querySelector(
      '.jp-ReproServer-logSearch'
    ) as HTMLInputElement;
    search.value = 'SLOW';
    search.dispatchEvent(new Event('input'));
    expect(node.querySelectorAll('pre mark')).toHaveLength(1);
    click(buttonByText(node, 'Copy'));
    expect(s.copied[0]).toContain('the 7\n');
    search.value = '';
    search.dispatchEvent(new Event('input'));

    socket.send(
      log.add({ type: 'step-end', step: 0, exitCode: 0, durationMs: 1200 })
    );
    socket.send(log.add({ type: 'end', status: 'succeeded' }));
    socket.drop();
    await flush();
    expect(client.getRun).toHaveBeenCalledWith('r1');
    expect(client.saveOutputs).toHaveBeenCalledWith('r1', undefined);
    expect(
      node.querySelector('[role="status"].jp-ReproServer-badge')?.textContent
    ).toBe('Succeeded');
    expect(
      node.querySelector('.jp-ReproServer-runStep')?.textContent
    ).toContain('exit code 0');
    const link = node.querySelector(
      '[data-output="top-words.txt"] a'
    ) as HTMLElement;
    click(link);
    expect(s.opened).toEqual(['work/shell-pipeline.rpz.runs/r1/top-words.txt']);
    click(buttonByText(node, 'Open folder'));
    expect(s.opened[1]).toBe('work/shell-pipeline.rpz.runs/r1/');
    expect(client.sockets).toHaveLength(1);
    panel.dispose();
  });

  it('says how a run failed: the step, its exit code and the end of its log', async () => {
    const client = fakeClient({
      getRun: jest.fn(async () =>
        runRecord({ status: 'failed', failedStep: 0 })
      )
    });
    const { panel, node } = await openPanel(client);
    await panel.runPackage();
    const socket = client.sockets[0];
    const log = new EventLog();
    socket.send(log.add({ type: 'status', status: 'running' }));
    socket.send(
      log.add({ type: 'step-start', step: 0, id: 'run0', argv: ['sh'] })
    );
    socket.send(
      log.add({
        type: 'log',
        step: 0,
        stream: 'stderr',
        text: 'sort: cannot read: words.txt\n'
      })
    );
    socket.send(
      log.add({ type: 'step-end', step: 0, exitCode: 2, durationMs: 10 })
    );
    socket.send(
      log.add({
        type: 'end',
        status: 'failed',
        failedStep: 0,
        reason: 'A step failed.'
      })
    );
    await flush();
    const failure = node.querySelector('.jp-ReproServer-failure')!.textContent;
    expect(failure).toContain('Step run0 ended with exit code 2.');
    expect(failure).toContain('sort: cannot read: words.txt');
    panel.dispose();
  });

  it('says when the companion server does not answer', async () => {
    const client = fakeClient({
      backends: jest.fn(async () => {
        throw new ReproServerError(
          'The ReproServer companion server cannot be reached at http://127.0.0.1:9/: TypeError: fetch failed',
          'unreachable'
        );
      })
    });
    const { panel, node } = await openPanel(client);
    expect(
      node.querySelector('.jp-ReproServer-unreachable')?.textContent
    ).toContain('does not answer');
    expect(
      node.querySelector('.jp-ReproServer-tabs')!.hasAttribute('hidden')
    ).toBe(true);
    panel.dispose();
  });

  it('shows the Run shortcut as the command registry has it', async () => {
    const bound = await openPanel(fakeClient(), {
      shortcutOf: command =>
        command === 'reproserver:run' ? 'Ctrl+Enter' : null
    });
    expect(
      bound.node
        .querySelector('.jp-ReproServer-run-button')
        ?.getAttribute('title')
    ).toBe('Run the package with these parameters and inputs (Ctrl+Enter)');
    bound.panel.dispose();
    const unbound = await openPanel(fakeClient());
    expect(
      unbound.node
        .querySelector('.jp-ReproServer-run-button')
        ?.getAttribute('title')
    ).toBe('Run the package with these parameters and inputs');
    unbound.panel.dispose();
  });

  it('says when the companion server is not at the extension’s version', async () => {
    const same = await openPanel(fakeClient());
    expect(
      same.node.querySelector('.jp-ReproServer-versionMismatch')
    ).toBeNull();
    same.panel.dispose();

    const client = fakeClient({
      version: jest.fn(async () => ({
        name: 'reproserver',
        version: '0.0.9',
        node: 'v20.0.0'
      }))
    });
    const { panel, node } = await openPanel(client);
    expect(client.version).toHaveBeenCalledTimes(1);
    expect(
      node.querySelector('.jp-ReproServer-versionMismatch')?.textContent
    ).toBe(
      `The ReproServer companion server is version 0.0.9 but this JupyterLab extension is version ${EXTENSION_VERSION}; they are made to work at the same version. Install the same version of both, then restart JupyterLab.`
    );
    // The package still opens and runs.
    expect(panel.session.phase).toBe('ready');
    await panel.session.load();
    await flush();
    expect(client.version).toHaveBeenCalledTimes(1);
    panel.dispose();
  });

  it("shows the reader's sentence for a malformed package", async () => {
    const client = fakeClient({
      registerPackage: jest.fn(async () => {
        throw new ReproServerError(
          'bad.rpz is not a ReproZip package: no METADATA/version.',
          'bad-package',
          422
        );
      })
    });
    const { panel, node } = await openPanel(client);
    expect(
      node.querySelector('.jp-ReproServer-malformed')?.textContent
    ).toContain('no METADATA/version.');
    panel.dispose();
  });

  it.each([
    [
      'rate-limited',
      'You started 30 runs in the last minute, the most this server allows per user; try again in 12 s.'
    ],
    [
      'user-queue-full',
      'You have 1000 runs queued or running and this server takes at most 1000 per user; cancel some, or wait for them to end.'
    ]
  ] as const)(
    'shows a shared server’s per-user refusal (%s) as it is',
    async (code, sentence) => {
      const client = fakeClient({
        createRun: jest.fn(async () => {
          throw new ReproServerError(sentence, code, 429);
        })
      });
      const { panel, node } = await openPanel(client);
      await panel.runPackage();
      await flush();
      expect(
        node.querySelector('.jp-ReproServer-notice-error')?.textContent
      ).toContain(sentence);
      // Nothing else stops: the next Run asks the server again.
      expect(
        node
          .querySelector('.jp-ReproServer-run-button')!
          .hasAttribute('disabled')
      ).toBe(false);
      panel.dispose();
    }
  );

  it('says why no run can start when no backend works', async () => {
    const client = fakeClient({
      backends: jest.fn(async () => ({
        backends: [
          {
            name: 'docker',
            available: false,
            detail: 'No Docker daemon answers.',
            isolation: null
          }
        ],
        default: null
      }))
    });
    const { panel, node } = await openPanel(client);
    expect(
      node.querySelector('.jp-ReproServer-nobackend')?.textContent
    ).toContain('No Docker daemon answers.');
    expect(
      node.querySelector('.jp-ReproServer-run-button')!.hasAttribute('disabled')
    ).toBe(true);
    panel.dispose();
  });

  it('says what the backend isolates, and in bold what it does not', async () => {
    const contained = BACKENDS.backends[0].isolation!;
    const sandboxWith = (isolation: BackendIsolation) =>
      sandboxServer(isolation);
    const isolated = await openPanel(sandboxWith(contained));
    const text = isolated.node.querySelector(
      '.jp-ReproServer-isolation'
    )?.textContent;
    expect(text).toContain(
      'The experiment cannot reach your files, the network, your other processes.'
    );
    expect(text).toContain(
      'Root steps keep 5 privileges, inside their container only'
    );
    expect(
      isolated.node.querySelector('.jp-ReproServer-notIsolated')
    ).toBeNull();
    isolated.panel.dispose();

    const { panel, node } = await openPanel(
      sandboxWith({
        ...contained,
        files: false,
        network: false,
        processes: false,
        capabilities: { scope: 'host', root: [], nonRoot: [] },
        memory: 'rlimit',
        cpu: 'none',
        disk: 'none'
      })
    );
    expect(node.querySelector('.jp-ReproServer-notIsolated')?.textContent).toBe(
      'It CAN reach your files, the network, your other processes. '
    );
    expect(
      node.querySelector('.jp-ReproServer-isolation')?.textContent
    ).toContain(
      'Steps have the server’s own privileges on this host; limits: memory rlimit, CPU not enforced, disk not enforced.'
    );
    panel.dispose();
  });

  describe('weak isolation', () => {
    const unconfined = {
      ...BACKENDS.backends[0].isolation!,
      files: false,
      network: false,
      processes: false,
      capabilities: { scope: 'host' as const, root: [], nonRoot: [] }
    };
    const weakServer = (policy: 'ask' | 'refuse' = 'ask') =>
      sandboxServer(unconfined, policy);
    const createRuns = (client: ReturnType<typeof fakeClient>) =>
      client.calls.filter(call => call.name === 'createRun');

    it('asks once per package, naming what the experiment can reach', async () => {
      const client = weakServer();
      const memory = new ConsentMemory();
      const asked: IConsentRequest[] = [];
      let answer = false;
      const { panel, node } = await openPanel(client, {
        consent: {
          prompt: async request => {
            asked.push(request);
            return answer;
          },
          memory
        }
      });
      await panel.runPackage();
      expect(asked).toEqual([
        {
          packageName: 'shell-pipeline.rpz',
          backend: 'sandbox',
          exposures: ['files', 'network', 'processes']
        }
      ]);
      expect(createRuns(client)).toHaveLength(0);
      expect(
        node.querySelector('.jp-ReproServer-notice')?.textContent
      ).toContain('Not started');

      answer = true;
      await panel.runPackage();
      expect(asked).toHaveLength(2);
      expect(createRuns(client)).toHaveLength(1);
      expect(createRuns(client)[0].args[0]).toMatchObject({
        acceptWeakIsolation: true
      });
      expect(memory.covers(SHA, ['files', 'network', 'processes'])).toBe(true);
      panel.dispose();

      // Another panel of the same package, later: not asked again.
      const again = await openPanel(client, {
        consent: {
          prompt: async request => {
            asked.push(request);
            return false;
          },
          memory
        }
      });
      await again.panel.runPackage();
      expect(asked).toHaveLength(2);
      expect(createRuns(client)).toHaveLength(2);
      again.panel.dispose();
    });

    it('never asks, and never sends consent, where files and network are isolated', async () => {
      const client = fakeClient();
      const prompt = jest.fn(async () => true);
      const { panel } = await openPanel(client, {
        consent: { prompt, memory: new ConsentMemory() }
      });
      await panel.runPackage();
      expect(prompt).not.toHaveBeenCalled();
      expect(createRuns(client)[0].args[0]).not.toHaveProperty(
        'acceptWeakIsolation'
      );
      panel.dispose();
    });

    it('does not start, and says why, on a server that refuses such runs', async () => {
      const client = weakServer('refuse');
      const prompt = jest.fn(async () => true);
      const { panel, node } = await openPanel(client, {
        consent: { prompt, memory: new ConsentMemory() }
      });
      await panel.runPackage();
      expect(prompt).not.toHaveBeenCalled();
      expect(createRuns(client)).toHaveLength(0);
      expect(
        node.querySelector('.jp-ReproServer-notice')?.textContent
      ).toContain('This server refuses runs on the sandbox backend');
      panel.dispose();
    });

    it('asks again when a run would expose more than what was accepted', () => {
      const stored = new Map<string, string>();
      const storage = {
        getItem: (key: string) => stored.get(key) ?? null,
        setItem: (key: string, value: string) => void stored.set(key, value)
      };
      new ConsentMemory(storage).remember(SHA, ['processes']);
      const memory = new ConsentMemory(storage);
      expect(memory.covers(SHA, ['processes'])).toBe(true);
      expect(memory.covers(SHA, ['files', 'processes'])).toBe(false);
      expect(memory.covers('other', ['processes'])).toBe(false);
      const broken = new ConsentMemory({
        getItem: () => {
          throw new Error('denied');
        },
        setItem: () => {
          throw new Error('denied');
        }
      });
      broken.remember(SHA, ['files']);
      expect(broken.covers(SHA, ['files'])).toBe(false);
    });
  });

  it('says what a confined proot keeps out of reach of the host processes it sees', async () => {
    const contained = BACKENDS.backends[0].isolation!;
    const { panel, node } = await openPanel(
      sandboxServer({
        ...contained,
        processes: false,
        capabilities: { scope: 'host', root: [], nonRoot: [] },
        confinement: {
          landlockAbi: 7,
          seccomp: true,
          processSecrets: true,
          signals: true
        }
      })
    );
    const text = node.querySelector('.jp-ReproServer-isolation')?.textContent;
    expect(text).toContain(
      'The experiment cannot reach your files, the network. It can see your other processes, but cannot read their environment or memory, nor signal them. Each step is confined by Landlock (ABI 7) and seccomp.'
    );
    expect(node.querySelector('.jp-ReproServer-notIsolated')).toBeNull();
    panel.dispose();
  });

  it("shows its sections in Lumino's tab bar, one tab per section", async () => {
    const client = fakeClient();
    const { panel, node } = await openPanel(client);
    const tabs = [...node.querySelectorAll('[role="tab"]')] as HTMLElement[];
    expect(tabs.map(t => t.dataset.tab)).toEqual([
      'overview',
      'parameters',
      'inputs',
      'run',
      'history',
      'sweep'
    ]);
    expect(tabs.map(t => t.textContent)).toEqual([
      'Overview',
      'Parameters',
      'Inputs',
      'Run',
      'History (0)',
      'Sweep'
    ]);
    expect(tabs.every(t => t.classList.contains('jp-ReproServer-tab'))).toBe(
      true
    );
    expect(tabs[0].getAttribute('aria-selected')).toBe('true');
    panel.selectTab('inputs');
    expect(tabs[2].getAttribute('aria-selected')).toBe('true');
    expect(tabs[0].getAttribute('aria-selected')).toBe('false');
    expect(node.querySelector('.jp-ReproServer-section-inputs')).not.toBeNull();
    // A tab that gets the focus (the arrow keys move it) is shown.
    tabs[4].dispatchEvent(new FocusEvent('focusin', { bubbles: true }));
    expect(panel.currentTab).toBe('history');
    panel.dispose();
  });

  it('keeps the control under the pointer when a limit field commits on blur, and while a run streams', async () => {
    const client = fakeClient();
    const { panel, node } = await openPanel(client);
    const run = node.querySelector('.jp-ReproServer-run-button')!;
    const tabs = [...node.querySelectorAll('[role="tab"]')];
    const limit = (label: string) =>
      node.querySelector(`[aria-label="${label}"]`) as HTMLInputElement;
    // A click is mousedown, blur of the field (its `change`), then mouseup and `click` on the
    // node that got the mousedown: it must still be the one in the page.
    for (const [label, value] of [
      ['Memory limit (MiB)', '2048'],
      ['Time limit (seconds)', '60']
    ]) {
      const field = limit(label);
      field.focus();
      field.value = value;
      field.blur();
      field.dispatchEvent(new Event('change'));
      expect(node.querySelector('.jp-ReproServer-run-button')).toBe(run);
      expect(limit(label)).toBe(field);
      expect([...node.querySelectorAll('[role="tab"]')]).toEqual(tabs);
    }
    click(run);
    await flush();
    const request = client.createRun.mock.calls[0][0] as {
      edits: { limits: unknown };
    };
    expect(request.edits.limits).toEqual({
      memoryMiB: 2048,
      timeoutSeconds: 60
    });
    // The run's progress updates the tabs, the toolbar and the run's Cancel in place too: every
    // log line re-renders them.
    const socket = client.sockets[0];
    socket.open();
    const log = new EventLog();
    socket.send(log.add({ type: 'status', status: 'running' }));
    await flush();
    const cancel = node.querySelector(
      '.jp-ReproServer-runHead .jp-ReproServer-cancel'
    );
    expect(cancel).not.toBeNull();
    socket.send(
      log.add({ type: 'step-start', step: 0, id: 'run0', argv: ['sh'] })
    );
    socket.send(
      log.add({ type: 'log', step: 0, stream: 'stdout', text: 'the 7\n' })
    );
    await flush();
    expect(
      node.querySelector('.jp-ReproServer-runHead .jp-ReproServer-cancel')
    ).toBe(cancel);
    expect([...node.querySelectorAll('[role="tab"]')]).toEqual(tabs);
    expect(node.querySelector('.jp-ReproServer-run-button')).toBe(run);
    expect((run as HTMLButtonElement).disabled).toBe(true);
    panel.dispose();
  });

  it('lists earlier runs and re-runs one with the same edits', async () => {
    const earlier = runRecord({
      id: 'r0',
      status: 'succeeded',
      edits: { stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }] }
    });
    const client = fakeClient({
      listRuns: jest.fn(async () => ({ runs: [earlier] }))
    });
    const { panel, node, services: s } = await openPanel(client);
    panel.selectTab('history');
    const row = node.querySelector('[data-run="r0"]') as HTMLElement;
    expect(row.textContent).toContain('run0: argument 3 = 2');
    click(buttonByText(row, 'Copy as command'));
    expect(s.copied[0]).toBe(
      'reproserver run work/shell-pipeline.rpz --out shell-pipeline.runs/r0 --arg 0:3=2'
    );
    click(buttonByText(row, 'Re-run'));
    await flush();
    expect(panel.currentTab).toBe('run');
    const request = client.createRun.mock.calls[0][0] as {
      edits: { stepEdits: unknown };
    };
    expect(request.edits.stepEdits).toEqual([
      { step: 0, args: [{ index: 3, value: '2' }] }
    ]);
    panel.dispose();
  });

  it('opens an earlier run: replays its log and saves its outputs on demand', async () => {
    const earlier = runRecord({
      id: 'r0',
      status: 'succeeded',
      outputs: [
        {
          name: 'top-words.txt',
          path: '/tmp/top-words.txt',
          kind: 'declared',
          size: 12,
          sha256: 'c'.repeat(64)
        }
      ]
    });
    const client = fakeClient({
      listRuns: jest.fn(async () => ({ runs: [earlier] })),
      getRun: jest.fn(async () => earlier),
      saveOutputs: jest.fn(async () => ({
        folder: 'work/shell-pipeline.runs/r0',
        files: [],
        skipped: ['work/shell-pipeline.runs/r0/top-words.txt']
      }))
    });
    const { panel, node, services: s } = await openPanel(client);
    panel.selectTab('history');
    click(buttonByText(node.querySelector('[data-run="r0"]')!, 'Open'));
    await flush();
    expect(panel.currentTab).toBe('run');
    const socket = client.sockets[0];
    expect(socket.offset).toBe(0);
    const log = new EventLog();
    socket.send(
      log.add({ type: 'log', step: 0, stream: 'stdout', text: 'old\n' })
    );
    socket.send(log.add({ type: 'end', status: 'succeeded' }));
    await flush();
    expect(node.querySelector('pre')!.textContent).toContain('old');
    expect(client.saveOutputs).not.toHaveBeenCalled();
    click(buttonByText(node, 'Save to workspace'));
    await flush();
    // The file was there already: the link goes to it.
    click(node.querySelector('[data-output="top-words.txt"] a'));
    expect(s.opened).toEqual(['work/shell-pipeline.runs/r0/top-words.txt']);
    panel.dispose();
  });
});

describe('savedFile', () => {
  it('finds declared outputs by name and changed files under changed/', () => {
    const saved = {
      folder: 'w/p.runs/r1',
      files: ['w/p.runs/r1/a_b.txt', 'w/p.runs/r1/changed/tmp/x/out.csv'],
      skipped: []
    };
    expect(
      savedFile(saved, { name: 'a/b.txt', path: '/tmp/a', kind: 'declared' })
    ).toBe('w/p.runs/r1/a_b.txt');
    expect(
      savedFile(saved, {
        name: '/tmp/x/out.csv',
        path: '/tmp/x/out.csv',
        kind: 'changed'
      })
    ).toBe('w/p.runs/r1/changed/tmp/x/out.csv');
    expect(
      savedFile(saved, { name: 'other', path: '/o', kind: 'declared' })
    ).toBeUndefined();
  });
});
