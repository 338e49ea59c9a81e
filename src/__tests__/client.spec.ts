/**
 * @jest-environment node
 */
import { ServerConnection } from '@jupyterlab/services';
import type { ApiErrorBody } from 'reproserver/contract';
import { ReproServerClient, ReproServerError } from '../api/client';

/** Jupyter connection settings whose fetch records the URLs and answers from a table. */
function fakeSettings(
  baseUrl: string,
  answer: (url: string) => { status: number; body: string }
): { settings: ServerConnection.ISettings; urls: string[] } {
  const urls: string[] = [];
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    const url = typeof input === 'string' ? input : (input as Request).url;
    urls.push(url);
    const { status, body } = answer(url);
    return new Response(body, { status });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl,
    fetch: fetch as typeof globalThis.fetch,
    Request: globalThis.Request,
    Headers: globalThis.Headers
  });
  return { settings, urls };
}

describe('ReproServerClient', () => {
  it('reaches the proxied server under a Binder-style base URL', async () => {
    const { settings, urls } = fakeSettings(
      'http://hub.example/user/ana/',
      () => ({
        status: 200,
        body: JSON.stringify({ status: 'ok', version: '0.1.0', uptime: 3 })
      })
    );
    const client = new ReproServerClient(settings);
    const health = await client.health();
    expect(health.version).toBe('0.1.0');
    expect(urls).toHaveLength(1);
    expect(
      urls[0].startsWith('http://hub.example/user/ana/reproserver/api/health')
    ).toBe(true);
  });

  it('uses an explicit server URL from the settings', async () => {
    const { settings, urls } = fakeSettings('http://lab.example/', () => ({
      status: 200,
      body: JSON.stringify({
        name: 'reproserver',
        version: '0.1.0',
        node: 'v20'
      })
    }));
    const client = new ReproServerClient(settings);
    client.setServerUrl('http://127.0.0.1:9000');
    expect(client.baseUrl).toBe('http://127.0.0.1:9000/');
    await client.version();
    expect(urls[0].startsWith('http://127.0.0.1:9000/api/version')).toBe(true);
  });

  it("turns the server's JSON error into its sentence and code", async () => {
    const { settings } = fakeSettings('http://lab.example/', () => ({
      status: 401,
      body: JSON.stringify({
        error: { code: 'unauthorized', message: 'The token is wrong.' }
      } satisfies ApiErrorBody)
    }));
    const client = new ReproServerClient(settings);
    await expect(client.health()).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'The token is wrong.',
      status: 401
    });
  });

  it('says the companion server is not running when the proxy has nothing there', async () => {
    const { settings } = fakeSettings('http://lab.example/', () => ({
      status: 404,
      body: '<html>Not Found</html>'
    }));
    const client = new ReproServerClient(settings);
    const error = await client.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReproServerError);
    expect((error as ReproServerError).code).toBe('unreachable');
    expect((error as ReproServerError).message).toContain(
      'is not running at http://lab.example/reproserver/'
    );
  });
});

describe('ReproServerClient endpoints', () => {
  it('registers a package by path and creates a run with its edits', async () => {
    const bodies: { url: string; method: string; body: string | null }[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      const request = input as Request;
      bodies.push({
        url: request.url,
        method: request.method,
        body: request.method === 'GET' ? null : await request.text()
      });
      return new Response(JSON.stringify({ sha256: 'abc', id: 'r1' }), {
        status: 200
      });
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://lab.example/',
      fetch: fetch as typeof globalThis.fetch,
      Request: globalThis.Request,
      Headers: globalThis.Headers
    });
    const client = new ReproServerClient(settings);
    await client.registerPackage('work/a b.rpz');
    await client.createRun({
      package: 'abc',
      edits: { stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }] }
    });
    await client.listRuns('abc');
    await client.saveOutputs('r1', 'out/r1');
    await client.cancelRun('r1');
    await client.upload(new Blob(['hello']));
    expect(bodies.map(b => `${b.method} ${b.url.split('?')[0]}`)).toEqual([
      'POST http://lab.example/reproserver/api/packages',
      'POST http://lab.example/reproserver/api/runs',
      'GET http://lab.example/reproserver/api/runs',
      'POST http://lab.example/reproserver/api/runs/r1/save',
      'POST http://lab.example/reproserver/api/runs/r1/cancel',
      'POST http://lab.example/reproserver/api/uploads'
    ]);
    expect(JSON.parse(bodies[0].body!)).toEqual({ path: 'work/a b.rpz' });
    expect(JSON.parse(bodies[1].body!).edits.stepEdits[0].args).toEqual([
      { index: 3, value: '2' }
    ]);
    expect(bodies[2].url).toContain('package=abc');
    expect(JSON.parse(bodies[3].body!)).toEqual({ folder: 'out/r1' });
    expect(bodies[5].body).toBe('hello');
  });

  it('reads and replaces a package’s metrics; a refusal is the bad-metric sentence', async () => {
    const calls: { url: string; method: string; body: string | null }[] = [];
    const refusal =
      'Metric "m" names an output the package does not have: x.csv.';
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      const request = input as Request;
      const body = request.method === 'GET' ? null : await request.text();
      calls.push({ url: request.url, method: request.method, body });
      if (body?.includes('x.csv')) {
        return new Response(
          JSON.stringify({
            error: { code: 'bad-metric', message: refusal }
          } satisfies ApiErrorBody),
          { status: 400 }
        );
      }
      return new Response(body ?? JSON.stringify({ metrics: [] }), {
        status: 200
      });
    };
    const client = new ReproServerClient(
      ServerConnection.makeSettings({
        baseUrl: 'http://lab.example/',
        fetch: fetch as typeof globalThis.fetch,
        Request: globalThis.Request,
        Headers: globalThis.Headers
      })
    );
    expect(await client.packageMetrics('abc')).toEqual({ metrics: [] });
    const list = {
      metrics: [{ name: 'loss', source: 'log-pair' as const }]
    };
    expect(await client.setPackageMetrics('abc', list)).toEqual(list);
    await expect(
      client.setPackageMetrics('abc', {
        metrics: [{ name: 'm', source: 'csv', output: 'x.csv', column: 0 }]
      })
    ).rejects.toMatchObject({ code: 'bad-metric', message: refusal });
    expect(calls.map(c => `${c.method} ${c.url.split('?')[0]}`)).toEqual([
      'GET http://lab.example/reproserver/api/packages/abc/metrics',
      'PUT http://lab.example/reproserver/api/packages/abc/metrics',
      'PUT http://lab.example/reproserver/api/packages/abc/metrics'
    ]);
    expect(JSON.parse(calls[1].body!)).toEqual(list);
  });

  it('derives the events WebSocket URL from the proxied or explicit base URL', () => {
    const proxied = new ReproServerClient(
      ServerConnection.makeSettings({
        baseUrl: 'https://hub.example/user/ana/',
        wsUrl: 'wss://hub.example/user/ana/',
        appendToken: false
      })
    );
    expect(proxied.eventsUrl('r 1', 120)).toBe(
      'wss://hub.example/user/ana/reproserver/api/runs/r%201/events?offset=120'
    );
    const explicit = new ReproServerClient(
      ServerConnection.makeSettings({
        baseUrl: 'http://lab.example/',
        token: 'secret',
        appendToken: true
      })
    );
    explicit.setServerUrl('http://127.0.0.1:9000/', 'its-own');
    // JupyterLab's token never goes to a server named in the settings; its own rides in the
    // subprotocol header, not in the URL.
    expect(explicit.eventsUrl('r1', 0)).toBe(
      'ws://127.0.0.1:9000/api/runs/r1/events?offset=0'
    );
    expect(explicit.eventsProtocols()).toEqual([
      'reproserver',
      'reproserver.token.aXRzLW93bg'
    ]);
    explicit.setServerUrl('');
    expect(explicit.eventsProtocols()).toEqual([]);
    expect(explicit.eventsUrl('r1', 0)).toContain('&token=secret');
  });

  it("sends a named server its own token and nothing of JupyterLab's", async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fetch = async (
      input: RequestInfo | URL,
      init: RequestInit = {}
    ): Promise<Response> => {
      seen.push({ url: String(input), init });
      return new Response('{"status":"ok"}', { status: 200 });
    };
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://lab.example/',
      token: 'jupyter-secret',
      fetch: fetch as typeof globalThis.fetch,
      Request: globalThis.Request,
      Headers: globalThis.Headers
    });
    const client = new ReproServerClient(settings);
    client.setServerUrl('https://compute.example/reproserver', 'its-own');
    await client.health();
    await client.registerPackage('a.rpz');
    for (const { url, init } of seen) {
      expect(url.startsWith('https://compute.example/reproserver/api/')).toBe(
        true
      );
      const headers = new Headers(init.headers);
      expect(headers.get('Authorization')).toBe('token its-own');
      expect(headers.get('X-XSRFToken')).toBeNull();
      expect(init.credentials).toBe('omit');
      expect(JSON.stringify([...headers])).not.toContain('jupyter-secret');
    }
    expect(seen).toHaveLength(2);
  });

  it('asks for a named server’s token when it refuses the request, once, and sends it again', async () => {
    const tokens: (string | null)[] = [];
    const fetch = async (
      _input: RequestInfo | URL,
      init: RequestInit = {}
    ): Promise<Response> => {
      const given = new Headers(init.headers).get('Authorization');
      tokens.push(given);
      return given === 'token right'
        ? new Response('{"status":"ok"}', { status: 200 })
        : new Response(
            '{"error":{"code":"unauthorized","message":"This request has no token."}}',
            { status: 401 }
          );
    };
    const client = new ReproServerClient(
      ServerConnection.makeSettings({
        baseUrl: 'http://lab.example/',
        fetch: fetch as typeof globalThis.fetch,
        Request: globalThis.Request,
        Headers: globalThis.Headers
      })
    );
    const asked: string[] = [];
    client.setTokenPrompt(async url => {
      asked.push(url);
      return 'right';
    });
    client.setServerUrl('http://compute.example/');
    expect((await client.health()).status).toBe('ok');
    expect(tokens).toEqual([null, 'token right']);
    expect(asked).toEqual(['http://compute.example/']);

    // Declined, or wrong again: the refusal is said, and the user is not asked twice.
    const other = new ReproServerClient(
      ServerConnection.makeSettings({
        baseUrl: 'http://lab.example/',
        fetch: fetch as typeof globalThis.fetch,
        Request: globalThis.Request,
        Headers: globalThis.Headers
      })
    );
    other.setTokenPrompt(async () => null);
    other.setServerUrl('http://compute.example/');
    await expect(other.health()).rejects.toMatchObject({
      code: 'unauthorized'
    });
    await expect(other.health()).rejects.toMatchObject({
      code: 'unauthorized'
    });
  });

  it("passes the package reader's sentence through", async () => {
    const { settings } = fakeSettings('http://lab.example/', () => ({
      status: 422,
      body: JSON.stringify({
        error: {
          code: 'bad-package',
          message: 'bad.rpz is not a ReproZip package: no METADATA/version.'
        }
      } satisfies ApiErrorBody)
    }));
    const client = new ReproServerClient(settings);
    await expect(client.registerPackage('bad.rpz')).rejects.toMatchObject({
      code: 'bad-package',
      message: 'bad.rpz is not a ReproZip package: no METADATA/version.'
    });
  });
});
