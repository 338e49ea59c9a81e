/**
 * The building blocks of the API's schemas: the options the server's validator reads (what a
 * field must be, which error code a mistake in it answers), naming a schema for the OpenAPI
 * document, and the shapes every endpoint shares (sha256, the error body).
 *
 * Schemas are TypeBox values, so this module and its siblings are for the server; the panel
 * imports their types only (through `contract/wire.ts`), never these values.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ERROR_CODES, type ErrorCode } from '../../errors';

/**
 * Options of a schema that the server's validator (`contract/validate.ts`) reads to explain a
 * refusal; the OpenAPI document leaves them out.
 */
export interface Explained {
  /** The whole sentence a mistake in this field answers; `{value}` is replaced by the value. */
  errorMessage?: string;
  /** What the field must be, after "<field> must be " (default: derived from the schema). */
  expected?: string;
  /** The error code of a mistake in this field or below it (default `bad-request`). */
  errorCode?: ErrorCode;
  /**
   * For an object that refuses unknown fields, the sentence that refuses them: `{fields}` is
   * replaced by their names, `{known}` by the known ones (default: "<field> has unknown fields:
   * {fields}.").
   */
  unknownFields?: string;
}

/** The keys of `Explained`, which the OpenAPI document strips. */
export const EXPLAINED_KEYS: readonly string[] = [
  'errorMessage',
  'expected',
  'errorCode',
  'unknownFields'
];

/** Where a named schema keeps its name; a symbol, so it survives TypeBox's copies but not JSON. */
export const COMPONENT_NAME = Symbol('reproserver.component');

/** The named schemas, by name: the components of the OpenAPI document. */
export const COMPONENTS = new Map<string, TSchema>();

/**
 * Names a schema: the OpenAPI document lists it once, among its components, and refers to it
 * wherever it is used (copies with other options, e.g. a description, included).
 */
export function named<T extends TSchema>(name: string, schema: T): T {
  if (COMPONENTS.has(name)) {
    throw new Error(`Two schemas are named ${name}.`);
  }
  (schema as TSchema & { [COMPONENT_NAME]?: string })[COMPONENT_NAME] = name;
  COMPONENTS.set(name, schema);
  return schema;
}

/** The schema with another description (a named one stays named). */
export const described = <T extends TSchema>(schema: T, description: string) =>
  ({ ...schema, description }) as T;

/** One of a list of strings (declared once, as a constant array, wherever it belongs). */
export function oneOf<T extends string>(
  values: readonly T[],
  options: Explained & { description?: string } = {}
) {
  return Type.Union(
    values.map(value => Type.Literal(value)),
    options
  );
}

/** `T | null`. */
export const nullable = <T extends TSchema>(
  schema: T,
  options: { description?: string } = {}
) => Type.Union([schema, Type.Null()], options);

/**
 * True when two types accept the same values. The schemas of types declared elsewhere (the
 * domain's own, e.g. `RunLimits`) assert it, so that the two cannot drift apart unnoticed.
 */
export type Same<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? true
    : false
  : false;

export const Sha256Schema = named(
  'Sha256',
  Type.String({
    pattern: '^[0-9a-f]{64}$',
    description: 'A SHA-256 digest, 64 lowercase hexadecimal digits.'
  })
);

export const ErrorCodeSchema = oneOf(ERROR_CODES, {
  description:
    'A stable code for programs; its HTTP status is fixed (`api/errors.ts`).'
});

export const ApiErrorBodySchema = named(
  'Error',
  Type.Object(
    {
      error: Type.Object({
        code: ErrorCodeSchema,
        message: Type.String({ description: 'A sentence for people.' })
      })
    },
    {
      description:
        'Every error the API returns: a stable code for programs and a sentence for people.'
    }
  )
);
/**
 * Every error the API returns: a stable code for programs (one of `ErrorCode`, whose HTTP status
 * is in `api/errors.ts`) and a sentence for people.
 */
export type ApiErrorBody = Static<typeof ApiErrorBodySchema>;

export const HealthResponseSchema = named(
  'HealthResponse',
  Type.Object({
    status: Type.Literal('ok'),
    version: Type.String(),
    uptime: Type.Number({ description: 'Seconds since the server started.' })
  })
);
/** `GET /api/health`: the server answers. */
export type HealthResponse = Static<typeof HealthResponseSchema>;

export const VersionResponseSchema = named(
  'VersionResponse',
  Type.Object({
    name: Type.Literal('reproserver'),
    version: Type.String(),
    node: Type.String()
  })
);
/** `GET /api/version`. */
export type VersionResponse = Static<typeof VersionResponseSchema>;
