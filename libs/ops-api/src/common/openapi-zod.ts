import { applyDecorators, HttpStatus } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  type SchemaObject,
} from '@nestjs/swagger';
import { z } from 'zod';
import { errorBody } from '@ioc/contracts';

/**
 * OpenAPI from the zod schemas the API parses with and the contracts' response schemas, so the
 * document cannot drift from what the handlers accept and answer. Schemas are converted with
 * `z.toJSONSchema(…, { target: 'openapi-3.0' })` (the version @nestjs/swagger 11 writes).
 */

/** Documented forms of parameters whose parsed type is not what the URL carries (see `documented`). */
const PARAMETER_DOCS = new WeakMap<z.ZodType, SchemaObject>();

/**
 * Records how a query parameter looks in the URL when its zod input side cannot say it: an
 * integer parsed from text is documented by the bounded integer schema it is piped into, not as
 * a string. `doc` must be built from the same zod pieces the parameter parses with.
 */
export function documented<S extends z.ZodType>(schema: S, doc: SchemaObject): S {
  PARAMETER_DOCS.set(schema, doc);
  return schema;
}

/** The OpenAPI 3.0 schema of a zod schema (`io`: the side parsed from, or the side produced). */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): SchemaObject {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete json['$schema'];
  return json as SchemaObject;
}

/** A parameter schema without its optional/default wrappers, and its default if it has one. */
function unwrap(schema: z.ZodType): { inner: z.ZodType; fallback?: unknown } {
  let inner = schema;
  let fallback: unknown;
  for (;;) {
    if (inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
    else if (inner instanceof z.ZodDefault) {
      fallback = inner.def.defaultValue;
      inner = inner.unwrap() as z.ZodType;
    } else return fallback === undefined ? { inner } : { inner, fallback };
  }
}

/** The OpenAPI schema of one query parameter, with its bounds, enumeration and default. */
export function parameterSchema(schema: z.ZodType): SchemaObject {
  const { inner, fallback } = unwrap(schema);
  const doc = PARAMETER_DOCS.get(inner) ?? openApiSchema(inner, 'input');
  return fallback === undefined ? doc : { ...doc, default: fallback };
}

/**
 * `@ApiQuery` for every key of a strict query object: name, required (when undefined is not
 * accepted), schema (type, bounds, enumeration, default) and the description given with
 * `.describe()`.
 */
export function ApiQueriesFrom(query: z.ZodObject): MethodDecorator {
  return applyDecorators(
    ...Object.entries(query.shape).map(([name, field]) => {
      const schema = field as z.ZodType;
      const doc = parameterSchema(schema);
      const description = schema.description ?? unwrap(schema).inner.description ?? doc.description;
      return ApiQuery({
        name,
        required: !schema.safeParse(undefined).success,
        schema: doc,
        ...(description === undefined ? {} : { description }),
      });
    }),
  );
}

const ERROR_DESCRIPTIONS: Partial<Record<HttpStatus, string>> = {
  [HttpStatus.BAD_REQUEST]:
    'A query parameter is invalid, out of range or unknown; `parameter` names it and `message` says why',
  [HttpStatus.UNAUTHORIZED]:
    'No credentials, or credentials that are invalid, expired or revoked (`reason` says which; `WWW-Authenticate: Bearer`)',
  [HttpStatus.FORBIDDEN]:
    'Authenticated but not allowed: `reason` role-required (`required` names the role) or out-of-scope (`outOfScope` names what)',
  [HttpStatus.NOT_FOUND]: 'No such device or area',
  [HttpStatus.CONFLICT]:
    'The write conflicts with what is stored (an id taken, a life-cycle step the device cannot make, a move under its own subtree)',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'The body is larger than the route accepts',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'The Content-Type is not one the route reads',
  [HttpStatus.TOO_MANY_REQUESTS]: 'Too many requests or failed logins (`Retry-After` says when to try again)',
  [HttpStatus.SERVICE_UNAVAILABLE]:
    'A dependency does not answer (`reason`: storage-unavailable, database-unavailable with `Retry-After`, no-ingest-stats); the live feed still works',
};

/**
 * The answers of one route: 200 with `body` (and, with `csv`, the same answer as text/csv) and
 * each listed error status with the contracts' error body.
 */
export function ApiAnswers(options: {
  body: z.ZodType;
  description?: string;
  errors: readonly HttpStatus[];
  csv?: boolean;
  /** The success status (default 200). */
  status?: HttpStatus;
  /** A success answer that is a file, not JSON: its media types, each with a description. */
  files?: Record<string, string>;
}): MethodDecorator {
  const json = openApiSchema(options.body);
  const ok =
    options.status === undefined
      ? ApiOkResponse
      : (o: object) => ApiResponse({ ...o, status: options.status });
  return applyDecorators(
    ...(options.csv ? [ApiProduces('application/json', 'text/csv')] : []),
    ok({
      description: options.description ?? 'OK',
      ...(options.files
        ? {
            content: Object.fromEntries(
              Object.entries(options.files).map(([type, description]) => [
                type,
                { schema: { type: 'string', description } },
              ]),
            ),
          }
        : options.csv
          ? {
              content: {
                'application/json': { schema: json },
                'text/csv': {
                  schema: { type: 'string', description: 'format=csv: RFC 4180, one row per point' },
                },
              },
            }
          : { schema: json }),
    }),
    ...options.errors.map((status) =>
      ApiResponse({
        status,
        description: ERROR_DESCRIPTIONS[status] ?? String(status),
        schema: openApiSchema(errorBody),
      }),
    ),
  );
}

/** `@ApiBody` of a JSON body parsed with `schema` (the side parsed from); `required: false` when it may be left out. */
export function ApiBodyFrom(schema: z.ZodType, description?: string, required = true): MethodDecorator {
  return ApiBody({
    schema: openApiSchema(schema, 'input'),
    required,
    ...(description === undefined ? {} : { description }),
  });
}
