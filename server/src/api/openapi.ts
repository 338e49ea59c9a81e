/**
 * The OpenAPI 3.1 description of the API (`GET /api/openapi.json`), for clients other than the
 * panel: generated from the route table (`contract/routes.ts`) and the schemas it names
 * (`contract/schemas/`), the same that give the panel its types and the server its validation.
 * Error codes come with the HTTP status of `errors.ts`'s table.
 */
import type { TSchema } from '@sinclair/typebox';
import type { ErrorCode } from '../errors';
import { ROUTES, type RouteSpec } from '../contract/routes';
import {
  ApiErrorBodySchema,
  COMPONENTS,
  COMPONENT_NAME,
  EXPLAINED_KEYS,
  type Explained
} from '../contract/schemas/common';
import { SERVER_VERSION } from '../version';
import { HTTP_STATUS } from './errors';

/** What any endpoint may refuse: the token and the origin are checked first. */
const EVERY_ENDPOINT: Partial<Record<ErrorCode, string>> = {
  unauthorized: 'No token, or a wrong one.',
  'cross-origin': 'Cross-origin request.'
};

/** What an endpoint with a JSON body may refuse, besides the codes its schema names. */
const JSON_BODY: Partial<Record<ErrorCode, string>> = {
  'bad-json': 'The body is not JSON.',
  'too-large': 'The body is larger than 1 MiB.',
  'bad-request':
    'The body does not have the documented shape; the message names the field.'
};

/** Sentences for the codes a schema gives its fields' mistakes. */
const SCHEMA_CODES: Partial<Record<ErrorCode, string>> = {
  'bad-edits':
    'The edits do not have the documented shape; the message names the field.',
  'bad-backend': 'Not auto, docker or sandbox.'
};

type Json = Record<string, unknown>;

let document: Json | undefined;

/** The document, generated once. */
export function openApiDocument(): Json {
  document ??= generate(Object.values(ROUTES));
  return document;
}

/** The document of a route table. */
export function generate(routes: readonly RouteSpec[]): Json {
  const used = new Set<string>();
  const toJson = (schema: TSchema): Json => jsonSchema(schema, used, true);
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, toJson);
  }
  // Components refer to others: add them until none is new.
  const schemas: Record<string, Json> = {};
  for (let added = true; added;) {
    added = false;
    for (const name of [...used].sort()) {
      if (!(name in schemas)) {
        schemas[name] = jsonSchema(COMPONENTS.get(name)!, used, false);
        added = true;
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ReproServer companion server',
      version: SERVER_VERSION,
      description:
        'Registers ReproZip packages, builds their images, runs them with changed parameters and inputs, and serves logs and outputs. Every request needs the token, in `X-ReproServer-Token` or `Authorization: token …`.'
    },
    components: {
      securitySchemes: {
        token: { type: 'apiKey', in: 'header', name: 'X-ReproServer-Token' }
      },
      schemas: Object.fromEntries(
        Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))
      )
    },
    security: [{ token: [] }],
    paths
  };
}

/** `/api/runs/:id` → `/api/runs/{id}`. */
export function openApiPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function operation(route: RouteSpec, toJson: (s: TSchema) => Json): Json {
  const op: Json = { summary: route.summary };
  if (route.parameters) {
    op.parameters = route.parameters.map(p => ({
      name: p.name,
      in: p.in,
      required: p.in === 'path',
      ...(p.description ? { description: p.description } : {}),
      schema: toJson(p.schema)
    }));
  }
  if (route.body) {
    op.requestBody = {
      required: route.body.required,
      content: { 'application/json': { schema: toJson(route.body.schema) } }
    };
  } else if (route.streamedBody) {
    op.requestBody = {
      required: true,
      content: { 'application/octet-stream': {} }
    };
  }
  const responses: Record<string, Json> = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    const contentType =
      answer.contentType ?? (answer.schema ? 'application/json' : undefined);
    responses[status] = {
      description: answer.description,
      ...(contentType
        ? {
            content: {
              [contentType]: answer.schema
                ? { schema: toJson(answer.schema) }
                : {}
            }
          }
        : {})
    };
  }
  for (const [status, sentences] of errorsByStatus(route)) {
    responses[status] = {
      description: sentences.join(' '),
      content: { 'application/json': { schema: toJson(ApiErrorBodySchema) } }
    };
  }
  op.responses = responses;
  return op;
}

/** The route's error codes grouped by HTTP status, each as "`code`: sentence". */
function errorsByStatus(route: RouteSpec): Map<string, string[]> {
  const sentences = new Map<ErrorCode, string[]>();
  const add = (errors: Partial<Record<ErrorCode, string>>): void => {
    for (const [code, sentence] of Object.entries(errors)) {
      const list = sentences.get(code as ErrorCode) ?? [];
      if (!list.includes(sentence)) {
        list.push(sentence);
      }
      sentences.set(code as ErrorCode, list);
    }
  };
  add(EVERY_ENDPOINT);
  if (route.body) {
    add(JSON_BODY);
    for (const code of codesIn(route.body.schema)) {
      add({ [code]: SCHEMA_CODES[code] ?? 'A field of the body is wrong.' });
    }
  }
  add(route.errors ?? {});
  const byStatus = new Map<string, string[]>();
  for (const [code, list] of [...sentences].sort(
    ([a], [b]) => HTTP_STATUS[a] - HTTP_STATUS[b]
  )) {
    const status = String(HTTP_STATUS[code]);
    byStatus.set(status, [
      ...(byStatus.get(status) ?? []),
      `\`${code}\`: ${list.join(' ')}`
    ]);
  }
  return byStatus;
}

/** The error codes a schema gives mistakes in its fields. */
function codesIn(schema: unknown): ErrorCode[] {
  if (typeof schema !== 'object' || schema === null) {
    return [];
  }
  const own = (schema as Explained).errorCode;
  return [
    ...(own ? [own] : []),
    ...Object.values(schema).flatMap(value => codesIn(value))
  ].filter((code, i, all) => all.indexOf(code) === i);
}

/**
 * A schema as plain JSON Schema: named schemas become references (noting the name in `used`)
 * except at the root of their own component, the validator's options are left out, and a union
 * of string constants is written as an `enum`.
 */
function jsonSchema(schema: TSchema, used: Set<string>, refer: boolean): Json {
  const name = (schema as { [COMPONENT_NAME]?: string })[COMPONENT_NAME];
  if (refer && name) {
    used.add(name);
    const ref: Json = { $ref: `#/components/schemas/${name}` };
    const original = COMPONENTS.get(name) as Json | undefined;
    if (schema.description && schema.description !== original?.description) {
      ref.description = schema.description;
    }
    return ref;
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (EXPLAINED_KEYS.includes(key)) {
      continue;
    }
    out[key] = plain(value, used);
  }
  const variants = out.anyOf as Json[] | undefined;
  if (
    variants?.every(v => typeof v.const === 'string' && v.type === 'string')
  ) {
    delete out.anyOf;
    return { type: 'string', enum: variants.map(v => v.const), ...out };
  }
  return out;
}

/** A value inside a schema: schemas within it converted, other JSON as it is. */
function plain(value: unknown, used: Set<string>): unknown {
  if (Array.isArray(value)) {
    return value.map(v => plain(v, used));
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  if (isSchema(value)) {
    return jsonSchema(value, used, true);
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, plain(v, used)])
  );
}

/** TypeBox marks its schemas with a symbol (`Kind`); plain maps (`properties`) have none. */
function isSchema(value: object): value is TSchema {
  return Object.getOwnPropertySymbols(value).length > 0;
}

/**
 * One schema of the document as a JSON Schema file of its own (the schemas it names under
 * `$defs`): for documents users write by hand, such as run files (docs/rpzrun.schema.json), so
 * editors can check them.
 */
export function standaloneSchema(name: string, id: string): Json {
  const components = (openApiDocument().components as Json).schemas as Json;
  const defs: Json = {};
  const pending = [name];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (next in defs) {
      continue;
    }
    defs[next] = components[next];
    for (const [, ref] of JSON.stringify(components[next]).matchAll(
      /"#\/components\/schemas\/([^"]+)"/g
    )) {
      pending.push(ref);
    }
  }
  const relinked = JSON.parse(
    JSON.stringify(defs).replace(/#\/components\/schemas\//g, '#/$defs/')
  ) as Json;
  const { [name]: root, ...others } = relinked;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: id,
    ...(root as Json),
    ...(Object.keys(others).length > 0 && { $defs: others })
  };
}
