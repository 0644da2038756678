import {
  applyDecorators,
  createParamDecorator,
  type ExecutionContext,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { Request } from 'express';
import type { Principal, Role } from '@ioc/contracts';

/** Metadata key: the route needs no authentication (`/health`, login, routes public by design). */
export const IS_PUBLIC = 'ioc:public';
/** Metadata key: the least role a route needs (ROLES order: viewer < operator < admin). */
export const REQUIRED_ROLE = 'ioc:required-role';

/** OpenAPI extension marking a public operation (setupOpenApi turns it into `security: []`). */
export const PUBLIC_EXTENSION = 'x-ioc-public';
/** OpenAPI extension naming the least role an operation needs. */
export const ROLE_EXTENSION = 'x-ioc-role';

/** The route (or every route of the controller) answers without authentication. */
export const Public = (): ReturnType<typeof applyDecorators> =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_EXTENSION, true));

/**
 * The least role the route (or controller) needs; a route with neither this nor `@Public()` needs
 * `viewer` (any authenticated principal). A principal below it gets 403 naming the role.
 */
export const Roles = (role: Role): ReturnType<typeof applyDecorators> =>
  applyDecorators(SetMetadata(REQUIRED_ROLE, role), ApiExtension(ROLE_EXTENSION, role));

/** An Express request once the authentication guard has run. */
export interface AuthenticatedRequest extends Request {
  principal?: Principal;
}

/**
 * The principal the request acts as (set by the authentication guard). A route reached without
 * one (a `@Public()` route) gets 401 if it asks for it.
 */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.principal) throw new UnauthorizedException('authentication required');
  return request.principal;
});
