import { BadRequestException } from '@nestjs/common';

/** A 400 that names the offending parameter, in the shape the validation pipe uses. */
export function badParameter(parameter: string, detail: string): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: `Invalid parameter "${parameter}": ${detail}`,
    parameter,
  });
}
