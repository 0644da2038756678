import { BadRequestException, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';

/**
 * Validates a request's query or body with zod; a failure is a 400 that names the parameter
 * and says what is wrong with it.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
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
