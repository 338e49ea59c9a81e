/**
 * Contract tests of the HTTP and WebSocket API: the real server process, the real Docker Engine
 * and registry, real packages made by reprozip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type {
  PackageDetails,
  PackageSummary,
  RunEventMessage,
  RunList,
  RunRecord,
  SaveOutputsResponse
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer, type RunningServer } from '../../helpers/server-process';
import { makeWorkspace } from './workspace';

jest.setTimeout(180_000);

describe('API', () => {
  let server: RunningServer;
  let api: ApiClient;
  let workspace: { root: string; outside: string };
  let shell: PackageSummary;
  const expected = example('shell-pipeline').manifest;

  beforeAll(async () => {
    workspace = makeWorkspace();
    server = await startServer({
      REPROSERVER_WORKSPACE: workspace.root,
      REPROSERVER_MAX_CONCURRENT_RUNS: '2'
    });
    api = new ApiClient(server);
    const reply = await api.call<PackageSummary>('POST', '/api/packages', {
      path: 'packages/shell-pipeline.rpz'
    });
    expect(reply.status).toBe(200);
    shell = reply.body;
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('packages', () => {
    it('registers a workspace package by path, once per content', async () => {
      expect(shell).toEqual({
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        name: 'shell-pipeline.rpz',
        size: expect.any(Number),
        path: 'packages/shell-pipeline.rpz',
        createdAt: expect.any(String)
      });
      const again = await api.call<PackageSummary>('POST', '/api/packages', {
        path: './packages//shell-pipeline.rpz'
      });
      expect(again.body.sha256).toBe(shell.sha256);
      const list = await api.call<{ packages: PackageSummary[] }>(
        'GET',
        '/api/packages'
      );
      expect(
        list.body.packages.filter(p => p.sha256 === shell.sha256)
      ).toHaveLength(1);
    });

    it('gives the model and typed parameters', async () => {
      const reply = await api.call<PackageDetails>(
        'GET',
        `/api/packages/${shell.sha256}`
      );
      expect(reply.status).toBe(200);
      expect(reply.body.model.runs[0].argv).toEqual(expected.runs[0].argv);
      expect(reply.body.parameters[0].args[3]).toMatchObject({
        index: 3,
        text: '3',
        kind: 'number'
      });
    });

    it('builds the image on request and streams the build’s events until it ends', async () => {
      const [started, events] = await Promise.all([
        api.call('POST', `/api/packages/${shell.sha256}/build`),
        api.call('GET', `/api/packages/${shell.sha256}/build/events`)
      ]);
      expect(started.status).toBe(202);
      expect(events.status).toBe(200);
      const lines = events.text
        .trim()
        .split('\n')
        .map(line => JSON.parse(line) as { type: string; image?: string });
      expect(lines.some(e => e.type === 'phase')).toBe(true);
      const status = await api.call<{ state: string; image: string }>(
        'GET',
        `/api/packages/${shell.sha256}/build`
      );
      expect(status.body.state).toBe('ready');
      expect(lines[lines.length - 1]).toMatchObject({
        type: 'result',
        image: status.body.image
      });
      const missing = await api.call<{ error: { code: string } }>(
        'GET',
        `/api/packages/${'0'.repeat(64)}/build/events`
      );
      expect(missing.status).toBe(404);
    });

    it.each([
      ['../outside.rpz', 400, 'bad-path'],
      ['/etc/passwd', 400, 'bad-path'],
      ['escape/outside.rpz', 403, 'outside-workspace'],
      ['packages/none.rpz', 404, 'not-found'],
      ['other words.txt', 422, 'bad-package']
    ])('refuses the package path %s', async (path, status, code) => {
      const reply = await api.call<{
        error: { code: string; message: string };
      }>('POST', '/api/packages', { path });
      expect(reply.status).toBe(status);
      expect(reply.body.error.code).toBe(code);
      expect(reply.body.error.message).toMatch(/\S+/);
    });

    it.each([
      ['GET', '/api/packages/zz'],
      ['GET', `/api/packages/${'0'.repeat(64)}`],
      ['GET', '/api/packages/..%2F..%2Fetc'],
      ['GET', '/api/runs/..%2F..%2Fetc'],
      ['GET', '/api/runs/nope/outputs/x'],
      ['POST', '/api/runs/a%2Fb/cancel']
    ])('answers 404 for %s %s', async (method, path) => {
      const reply = await api.call<{ error: { code: string } }>(method, path);
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe('not-found');
    });
  });

  describe('runs', () => {
    it('runs with a changed argument: status, steps, outputs, events, download, save', async () => {
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: shell.sha256,
        edits: { stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }] }
      });
      expect(created.status).toBe(202);
      const run = await api.waitForEnd(created.body.id);
      const variant = expected.variants!.find(v => v.id === 'top-2')!;
      expect(run).toMatchObject({
        status: 'succeeded',
        backend: 'docker',
        steps: [
          { index: 0, id: 'run0', argv: variant.runs![0].argv, exitCode: 0 }
        ],
        outputs: [
          {
            name: 'top-words.txt',
            kind: 'declared',
            sha256: variant.outputs['top-words.txt'].sha256
          }
        ],
        missingOutputs: [],
        failedStep: null
      });

      const events = await api.call('GET', `/api/runs/${run.id}/events`);
      const messages = events.text
        .trim()
        .split('\n')
        .map(line => JSON.parse(line) as RunEventMessage);
      expect(messages.map(m => m.event.type)).toEqual(
        expect.arrayContaining([
          'status',
          'step-start',
          'log',
          'step-end',
          'output',
          'end'
        ])
      );
      expect(messages[messages.length - 1].offset).toBe(run.eventsSize);
      // Resuming from any offset gives exactly the rest.
      const middle = messages[2].offset;
      const rest = await api.call(
        'GET',
        `/api/runs/${run.id}/events?offset=${middle}`
      );
      expect(rest.text.trim().split('\n')).toHaveLength(messages.length - 3);
      expect(
        (await api.call('GET', `/api/runs/${run.id}/events?offset=7`)).status
      ).toBe(400);

      const download = await api.call(
        'GET',
        `/api/runs/${run.id}/outputs/top-words.txt`
      );
      expect(download.text).toBe(variant.outputs['top-words.txt'].text);

      const saved = await api.call<SaveOutputsResponse>(
        'POST',
        `/api/runs/${run.id}/save`,
        {}
      );
      expect(saved.body).toEqual({
        folder: `packages/shell-pipeline.runs/${run.id}`,
        files: [`packages/shell-pipeline.runs/${run.id}/top-words.txt`],
        skipped: []
      });
      expect(
        readFileSync(join(workspace.root, saved.body.files[0]), 'utf8')
      ).toBe(variant.outputs['top-words.txt'].text);
      // Saving again never overwrites.
      const again = await api.call<SaveOutputsResponse>(
        'POST',
        `/api/runs/${run.id}/save`,
        {}
      );
      expect(again.body).toMatchObject({
        files: [],
        skipped: saved.body.files
      });
      const outside = await api.call('POST', `/api/runs/${run.id}/save`, {
        folder: 'escape/x'
      });
      expect(outside.status).toBe(403);
      expect(existsSync(join(workspace.outside, 'x'))).toBe(false);
    });

    it('runs on the sandbox backend when asked, with the same outputs', async () => {
      const variant = expected.variants!.find(v => v.id === 'top-2')!;
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: shell.sha256,
        backend: 'sandbox',
        edits: { stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }] }
      });
      expect(created.status).toBe(202);
      const run = await api.waitForEnd(created.body.id);
      expect(run).toMatchObject({
        status: 'succeeded',
        backend: 'sandbox',
        image: null
      });
      expect(run.outputs.find(o => o.name === 'top-words.txt')?.sha256).toBe(
        variant.outputs['top-words.txt'].sha256
      );
      const bad = await api.call<{ error: { code: string } }>(
        'POST',
        '/api/runs',
        {
          package: shell.sha256,
          backend: 'kubernetes'
        }
      );
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('bad-backend');
    });

    it('replaces an input by a workspace file and by an upload', async () => {
      const variant = expected.variants!.find(v => v.id === 'other-words')!;
      const fromWorkspace = await api.call<RunRecord>('POST', '/api/runs', {
        package: shell.sha256,
        edits: {
          inputs: [
            {
              name: 'arg2',
              source: { kind: 'workspace', path: 'other words.txt' }
            }
          ]
        }
      });
      const upload = await api.call<{ sha256: string }>(
        'POST',
        '/api/uploads',
        Buffer.from(variant.inputs!.arg2.text)
      );
      const fromUpload = await api.call<RunRecord>('POST', '/api/runs', {
        package: shell.sha256,
        edits: {
          inputs: [
            {
              name: 'arg2',
              source: { kind: 'blob', sha256: upload.body.sha256 }
            }
          ]
        }
      });
      for (const created of [fromWorkspace, fromUpload]) {
        expect(created.status).toBe(202);
        const run = await api.waitForEnd(created.body.id);
        expect(run.outputs.find(o => o.name === 'top-words.txt')?.sha256).toBe(
          variant.outputs['top-words.txt'].sha256
        );
      }
    });

    it.each([
      [{ stepEdits: 'x' }, 'bad-edits', 'edits.stepEdits must be a list.'],
      [
        { stepEdits: [{ step: 4 }] },
        'unknown-step',
        'Unknown step 4: this package has 1 step: 0 (run0).'
      ],
      [
        { stepEdits: [{ step: 0, args: [{ index: 9, value: '1' }] }] },
        'arg-out-of-range',
        'Step 0 (run0) has arguments 0 to 3; there is no argument 9.'
      ],
      [
        {
          inputs: [
            { name: 'arg2', source: { kind: 'workspace', path: '../x' } }
          ]
        },
        'bad-path',
        'The input file "../x" leaves the workspace.'
      ],
      [
        { limits: { memoryMiB: 'lots' } },
        'bad-edits',
        'The limit memoryMiB must be a number.'
      ],
      [{ colour: 'red' }, 'bad-edits', 'edits has unknown fields: colour.']
    ])(
      'refuses edits %j with a stable code and a sentence',
      async (edits, code, message) => {
        const reply = await api.call<{
          error: { code: string; message: string };
        }>('POST', '/api/runs', {
          package: shell.sha256,
          edits
        });
        expect(reply.status).toBe(400);
        expect(reply.body.error).toEqual({ code, message });
      }
    );

    it('cancels a queued or running run, and deletes runs with their blobs', async () => {
      const slow = await api.call<PackageSummary>('POST', '/api/packages', {
        path: 'packages/slow-printer.rpz'
      });
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: slow.body.sha256,
        edits: { stepEdits: [{ step: 0, args: [{ index: 2, value: '60' }] }] }
      });
      await api.follow(created.body.id, 0, (message, socket) => {
        if (message.event.type === 'log') {
          socket.close();
        }
      });
      const cancelled = await api.call<RunRecord>(
        'POST',
        `/api/runs/${created.body.id}/cancel`
      );
      expect(cancelled.body.status).toBe('cancelled');
      expect(
        (await api.call('POST', `/api/runs/${created.body.id}/cancel`)).status
      ).toBe(409);
      expect(
        (await api.call('DELETE', `/api/runs/${created.body.id}`)).status
      ).toBe(204);
      expect(
        (await api.call('GET', `/api/runs/${created.body.id}`)).status
      ).toBe(404);
    });

    it('streams events live over WebSocket and resumes from an offset without gaps or repeats', async () => {
      const slow = await api.call<PackageSummary>('POST', '/api/packages', {
        path: 'packages/slow-printer.rpz'
      });
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: slow.body.sha256
      });
      let cut = 0;
      const first = await api.follow(created.body.id, 0, (message, socket) => {
        if (message.event.type === 'log' && cut === 0) {
          cut = message.offset;
          socket.close();
        }
      });
      const second = await api.follow(created.body.id, cut);
      expect(second.code).toBe(1000);
      const whole = await api.follow(created.body.id, 0);
      const seen = [
        ...first.messages.filter(m => m.offset <= cut),
        ...second.messages
      ];
      expect(seen).toEqual(whole.messages);
      const logs = whole.messages.filter(m => m.event.type === 'log');
      expect(
        logs.map(m => (m.event as { text: string }).text).join('')
      ).toContain('tick 5/5');
    });
  });

  describe('uploads', () => {
    // Last: an uploaded copy becomes the package's lasting source, so the runs above save their
    // outputs beside the workspace file.
    it('takes an upload as a stream, deduplicated by sha256', async () => {
      const bytes = readFileSync(
        join(workspace.root, 'packages', 'shell-pipeline.rpz')
      );
      const reply = await api.call<PackageSummary>(
        'PUT',
        '/api/packages/upload?name=mine.rpz',
        bytes,
        {
          'content-type': 'application/octet-stream'
        }
      );
      expect(reply.status).toBe(200);
      expect(reply.body.sha256).toBe(shell.sha256);
    });
  });

  describe('security', () => {
    it.each([
      ['no token', {}],
      ['a wrong token', { 'x-reproserver-token': 'nope' }]
    ])('refuses a WebSocket with %s', async (_, headers) => {
      const url = new URL('/api/runs/abc/events', server.url);
      url.protocol = 'ws:';
      const status = await new Promise<number>(resolve => {
        const socket = new WebSocket(url, { headers });
        socket.on('unexpected-response', (_req, res) =>
          resolve(res.statusCode ?? 0)
        );
        socket.on('open', () => resolve(101));
        socket.on('error', () => undefined);
      });
      expect(status).toBe(401);
    });

    it('takes the token of a browser WebSocket from its subprotocol, never echoing it', async () => {
      const runs = await api.call<RunList>(
        'GET',
        `/api/runs?package=${shell.sha256}`
      );
      const runId = runs.body.runs[0].id;
      const open = (token: string) =>
        new Promise<{ status: number; protocol?: string }>(resolve => {
          const url = new URL(`/api/runs/${runId}/events`, server.url);
          url.protocol = 'ws:';
          const socket = new WebSocket(url, [
            'reproserver',
            `reproserver.token.${Buffer.from(token).toString('base64url')}`
          ]);
          socket.on('unexpected-response', (_req, res) =>
            resolve({ status: res.statusCode ?? 0 })
          );
          socket.on('open', () => {
            resolve({ status: 101, protocol: socket.protocol });
            socket.close();
          });
          socket.on('error', () => undefined);
        });
      expect(await open(server.token)).toEqual({
        status: 101,
        protocol: 'reproserver'
      });
      expect((await open('not-the-token')).status).toBe(401);
    });

    it('refuses a cross-origin WebSocket even with the token', async () => {
      const url = new URL('/api/runs/abc/events', server.url);
      url.protocol = 'ws:';
      const status = await new Promise<number>(resolve => {
        const socket = new WebSocket(url, {
          headers: { 'x-reproserver-token': server.token },
          origin: 'http://evil.example'
        });
        socket.on('unexpected-response', (_req, res) =>
          resolve(res.statusCode ?? 0)
        );
        socket.on('open', () => resolve(101));
        socket.on('error', () => undefined);
      });
      expect(status).toBe(403);
    });

    it('limits request bodies', async () => {
      const reply = await api.call(
        'POST',
        '/api/runs',
        Buffer.alloc(2 * 1024 * 1024, 32),
        {
          'content-type': 'application/json'
        }
      );
      expect(reply.status).toBe(413);
    });

    it('describes itself in an OpenAPI document', async () => {
      const reply = await api.call<{
        openapi: string;
        paths: Record<string, unknown>;
      }>('GET', '/api/openapi.json');
      expect(reply.body.openapi).toBe('3.1.0');
      expect(Object.keys(reply.body.paths)).toEqual(
        expect.arrayContaining([
          '/api/runs',
          '/api/runs/{id}/events',
          '/api/packages/{sha256}/build',
          '/api/packages/{sha256}/build/events'
        ])
      );
    });
  });
});
