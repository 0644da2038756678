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
    const parameter = issue?.path.join('.') || undefined;
    const message = parameter
      ? `Invalid parameter "${parameter}": ${issue?.message ?? 'invalid'}`
      : (issue?.message ?? 'Invalid request');
    throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message, parameter });
  }
}
