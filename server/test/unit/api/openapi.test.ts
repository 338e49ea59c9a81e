/**
 * The OpenAPI document is generated from the route table and the schemas: every route the router
 * serves is in it with the same method and path, every operation in it is served, and what it
 * refers to is in it.
 */
import { HTTP_STATUS } from '../../../src/api/errors';
import { openApiDocument, openApiPath } from '../../../src/api/openapi';
import { apiRoutes, type Services } from '../../../src/api/routes';
import { ROUTES } from '../../../src/contract/routes';
import { EXPLAINED_KEYS } from '../../../src/contract/schemas/common';

interface Operation {
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: unknown;
  responses: Record<string, { description: string }>;
}

const document = openApiDocument() as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

/** `METHOD /path/{param}` of every operation of the document. */
const documented = Object.entries(document.paths).flatMap(([path, ops]) =>
  Object.keys(ops).map(method => `${method.toUpperCase()} ${path}`)
);

/** `METHOD /path/{param}` of every route the server registers. */
const served = apiRoutes({} as Services, Date.now())
  .routes()
  .map(({ method, path }) => `${method} ${openApiPath(path)}`);

/** Every object in a JSON value, depth first. */
function* objects(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) {
    for (const item of value) {
      yield* objects(item);
    }
  } else if (typeof value === 'object' && value !== null) {
    yield value as Record<string, unknown>;
    for (const item of Object.values(value)) {
      yield* objects(item);
    }
  }
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and plain JSON', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  it('documents every route the router serves', () => {
    expect(served.length).toBeGreaterThanOrEqual(20);
    expect(served.filter(route => !documented.includes(route))).toEqual([]);
  });

  it('serves every operation it documents', () => {
    expect(documented.filter(route => !served.includes(route))).toEqual([]);
    expect(new Set(served).size).toBe(served.length);
  });

  it('converts router patterns to OpenAPI paths', () => {
    expect(openApiPath('/api/runs/:id/outputs/:name')).toBe(
      '/api/runs/{id}/outputs/{name}'
    );
  });

  it('declares each path parameter of each operation', () => {
    for (const [path, ops] of Object.entries(document.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map(m => m[1]);
      for (const op of Object.values(ops)) {
        const declared = (op.parameters ?? [])
          .filter(p => p.in === 'path' && p.required)
          .map(p => p.name);
        expect({ path, declared }).toEqual({ path, declared: names });
      }
    }
  });

  it('refers only to components it has', () => {
    const refs = [...objects(document)]
      .map(o => o.$ref)
      .filter((ref): ref is string => typeof ref === 'string');
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas).toHaveProperty(ref.split('/').pop()!);
    }
  });

  it('leaves out the options only the validator reads', () => {
    for (const object of objects(document)) {
      for (const key of EXPLAINED_KEYS) {
        expect(object).not.toHaveProperty(key);
      }
    }
  });

  it('gives each error code its HTTP status, and each JSON body its schema', () => {
    const createRun = document.paths['/api/runs'].post;
    expect(createRun.requestBody).toMatchObject({
      required: true,
      content: { 'application/json': { schema: { required: ['package'] } } }
    });
    expect(createRun.responses['202'].description).toBe('Queued.');
    expect(createRun.responses['400'].description).toContain('`bad-edits`');
    expect(createRun.responses['400'].description).toContain('`bad-backend`');
    expect(createRun.responses['409'].description).toContain(
      '`weak-isolation-consent`'
    );
    for (const route of Object.values(ROUTES)) {
      const op =
        document.paths[openApiPath(route.path)][route.method.toLowerCase()];
      for (const code of Object.keys(
        'errors' in route ? route.errors : {}
      ) as (keyof typeof HTTP_STATUS)[]) {
        expect(op.responses[String(HTTP_STATUS[code])].description).toContain(
          `\`${code}\``
        );
      }
      expect(op.responses['401'].description).toContain('`unauthorized`');
    }
  });

  it('documents the incremental read of a sweep: ?since= and the answer’s revision', () => {
    const op = document.paths['/api/sweeps/{id}'].get;
    expect(op.parameters).toContainEqual(
      expect.objectContaining({ name: 'since', in: 'query' })
    );
    expect(document.components.schemas.SweepRecord).toMatchObject({
      properties: {
        revision: { type: 'string' },
        incremental: { type: 'boolean' }
      },
      required: expect.arrayContaining(['revision', 'variants', 'counts'])
    });
  });

  it('writes a choice of strings as an enum', () => {
    expect(document.components.schemas.RunRecord).toMatchObject({
      properties: {
        status: {
          type: 'string',
          enum: expect.arrayContaining(['queued', 'succeeded', 'interrupted'])
        }
      }
    });
  });
});
