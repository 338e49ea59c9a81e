import { ApiError } from '../../../src/api/errors';
import { Router } from '../../../src/api/router';

describe('Router', () => {
  const noop = (): void => undefined;
  const router = new Router()
    .add('GET', '/api/runs', noop)
    .add('GET', '/api/runs/:id', noop)
    .add('DELETE', '/api/runs/:id', noop);

  it('matches named segments and decodes them', () => {
    expect(router.resolve('GET', '/api/runs/a%20b').params).toEqual({
      id: 'a b'
    });
  });

  it('serves HEAD with the GET handler', () => {
    expect(router.resolve('HEAD', '/api/runs').params).toEqual({});
  });

  it('answers 405 for a known path with another method', () => {
    expect(() => router.resolve('POST', '/api/runs/1')).toThrow(
      expect.objectContaining({ status: 405, code: 'method-not-allowed' })
    );
  });

  it('answers 404 for an unknown path', () => {
    let error: unknown;
    try {
      router.resolve('GET', '/api/runs/1/extra');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });
});

describe('Router.routes', () => {
  it('lists method and pattern of each route, in order', () => {
    const router = new Router()
      .add('GET', '/api/runs', () => undefined)
      .on({ method: 'DELETE', path: '/api/runs/:id' }, () => undefined);
    expect(router.routes()).toEqual([
      { method: 'GET', path: '/api/runs' },
      { method: 'DELETE', path: '/api/runs/:id' }
    ]);
  });
});
