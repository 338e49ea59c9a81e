/**
 * Validation of a value against its schema (`contract/schemas/`): request bodies at the API's
 * edge, and documents the services read (run files), with one sentence that names the field and
 * what it must be, as a `DomainError` of the field's code (the API's table gives its status).
 * Server-only: it compiles the schemas with TypeBox's compiler, which the panel's bundle never
 * takes (the panel's entry, `contract/index.ts`, does not export it).
 */
import { Kind, type Static, type TSchema } from '@sinclair/typebox';
import {
  TypeCompiler,
  ValueErrorType,
  type TypeCheck,
  type ValueError
} from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { DomainError } from '../errors';
import type { Explained } from './schemas/common';

type Schema = TSchema & Explained;

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/**
 * The value, typed, when it fits the schema; else a `DomainError` naming the first mistake. Fields
 * the schema does not declare are dropped (objects that refuse them, like the edits, say so).
 */
export function validate<T extends TSchema>(
  schema: T,
  value: unknown
): Static<T> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  if (check.Check(value)) {
    return Value.Clean(schema, value) as Static<T>;
  }
  throw refusal(schema, [...check.Errors(value)]);
}

/** The error a failed validation answers: the first mistake, in the schema's own order. */
export function refusal(root: TSchema, errors: ValueError[]): DomainError {
  const first = errors[0];
  const code = codeAt(root, segments(first.path));
  if (first.type === ValueErrorType.ObjectAdditionalProperties) {
    // All the unknown fields of that object at once: typos are usually several.
    const parent = parentOf(first.path);
    const unknown = errors
      .filter(
        e =>
          e.type === ValueErrorType.ObjectAdditionalProperties &&
          parentOf(e.path) === parent
      )
      .map(e => segments(e.path).pop());
    const object = first.schema as Schema;
    const sentence =
      object.unknownFields ??
      `${fieldName(parent)} has unknown fields: {fields}.`;
    return new DomainError(
      code,
      sentence
        .replace('{fields}', unknown.join(', '))
        .replace('{known}', Object.keys(object.properties ?? {}).join(', '))
    );
  }
  const schema = first.schema as Schema;
  if (schema.errorMessage) {
    return new DomainError(
      code,
      schema.errorMessage.replace('{value}', shown(first.value))
    );
  }
  return new DomainError(
    code,
    `${fieldName(first.path)} must be ${expected(schema, first.path === '')}.`
  );
}

/** A value as JSON, cut short: a message must not echo a large body back. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `/edits/stepEdits/0/args` → `edits.stepEdits[0].args`; the root is the request body. */
export function fieldName(path: string): string {
  const parts = segments(path);
  if (parts.length === 0) {
    return 'The request body';
  }
  return parts
    .map((part, i) =>
      /^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`
    )
    .join('');
}

/** What a value of the schema is, after "must be". */
function expected(schema: Schema, isRoot = false): string {
  if (schema.expected) {
    return schema.expected;
  }
  switch (schema[Kind]) {
    case 'String':
      return 'a string';
    case 'Integer':
      return 'a whole number';
    case 'Number':
      return 'a number';
    case 'Boolean':
      return 'true or false';
    case 'Null':
      return 'null';
    case 'Literal':
      return JSON.stringify(schema.const);
    case 'Union': {
      const variants = schema.anyOf as Schema[];
      return variants.every(v => v[Kind] === 'Literal')
        ? `one of ${variants.map(v => JSON.stringify(v.const)).join(', ')}`
        : variants.map(v => expected(v)).join(' or ');
    }
    case 'Array': {
      const items = schema.items as Schema;
      const kind = items[Kind];
      return kind === 'String'
        ? 'a list of strings'
        : kind === 'Integer'
          ? 'a list of whole numbers'
          : 'a list';
    }
    case 'Object':
    case 'Record':
      return isRoot ? 'a JSON object' : 'an object';
    default:
      return 'of the documented shape';
  }
}

/**
 * The error code of a mistake at a path: that of the deepest schema along it that names one
 * (`bad-edits` for anything in the edits), else `bad-request`.
 */
function codeAt(root: TSchema, path: string[]): DomainError['code'] {
  let code: DomainError['code'] = 'bad-request';
  let schema: Schema | undefined = root;
  for (let i = 0; schema; i++) {
    code = schema.errorCode ?? code;
    if (i === path.length) {
      break;
    }
    schema = childOf(schema, path[i]);
  }
  return code;
}

function childOf(schema: Schema, key: string): Schema | undefined {
  if (schema.properties && key in schema.properties) {
    return schema.properties[key];
  }
  if (schema.items && /^\d+$/.test(key)) {
    return schema.items;
  }
  if (schema.patternProperties) {
    return Object.values(schema.patternProperties)[0] as Schema;
  }
  return undefined;
}

/** The segments of a JSON pointer, unescaped. */
function segments(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}
