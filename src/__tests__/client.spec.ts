/**
 * @jest-environment node
 */
import { ServerConnection } from '@jupyterlab/services';
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
      })
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
