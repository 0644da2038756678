import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/** The request's `User-Agent` (at most 512 characters), or undefined: kept with a login session. */
export const UserAgent = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined =>
  context.switchToHttp().getRequest<Request>().headers['user-agent']?.slice(0, 512),
);
