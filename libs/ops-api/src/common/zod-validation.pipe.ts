import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { z } from 'zod';

/**
 * Validates a request's query with zod (a strict object: unknown keys are refused); a failure is
 * a 400 whose `parameter` names the parameter — the unknown one for `?foo=1` — and whose
 * `message` says what is wrong with it.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  /**
   * @param what `parameter` for a query, `field` for a JSON body (the messages say which; the
   *   answer's `parameter` names the field either way)
   */
  constructor(
    /** The schema the pipe parses with (public: the OpenAPI spec test compares it with the document). */
    readonly schema: S,
    private readonly what: 'parameter' | 'field' = 'parameter',
  ) {}

  transform(value: unknown): z.infer<S> {
    if (this.what === 'field' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: 'The body must be a JSON object (Content-Type: application/json)',
      });
    }
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    if (issue?.code === 'unrecognized_keys') {
      const parameter = String(issue.keys[0]).slice(0, 64);
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `Unknown ${this.what} ${JSON.stringify(parameter)}`,
        parameter,
      });
    }
    if (this.what === 'field') {
      const path = (issue?.path ?? []).map(String);
      const field = path.join('.');
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: field
          ? `Invalid field "${field.slice(0, 64)}": ${issue?.message ?? 'invalid'}`
          : (issue?.message ?? 'Invalid body'),
        ...(path[0] === undefined ? {} : { parameter: path[0].slice(0, 64) }),
      });
    }
    // Report the request parameter itself; an item of a comma-separated list is named in the text.
    const [name, item] = issue?.path ?? [];
    const parameter = name === undefined ? undefined : String(name);
    const where = typeof item === 'number' ? `item ${item + 1}: ` : '';
    const message = parameter
      ? `Invalid parameter "${parameter}": ${where}${issue?.message ?? 'invalid'}`
      : (issue?.message ?? 'Invalid request');
    throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message, parameter });
  }
}

/** The query of a route that takes no parameters: any parameter is unknown, a 400 naming it. */
export const NO_PARAMETERS = z.strictObject({});

/** `@Query(NoParameters)` on a route without parameters. */
export const NoParameters = new ZodValidationPipe(NO_PARAMETERS);
