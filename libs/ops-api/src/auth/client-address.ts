import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * The client's address as the API sees it (`request.ip`: the peer, or the client named by a
 * trusted proxy when `trust proxy` is set), for the audit trail and the login throttle;
 * `unknown` when the socket has none.
 */
export const ClientAddress = createParamDecorator(
  (_: unknown, context: ExecutionContext): string =>
    context.switchToHttp().getRequest<Request>().ip ?? 'unknown',
);

/** The request's `User-Agent` (at most 512 characters), or undefined. */
export const UserAgent = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined =>
  context.switchToHttp().getRequest<Request>().headers['user-agent']?.slice(0, 512),
);
