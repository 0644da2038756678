import {
  createParamDecorator,
  type ExecutionContext,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import type { Principal, Role } from '@ioc/contracts';

/** Metadata key: the route needs no authentication (`/health`, login, routes public by design). */
export const IS_PUBLIC = 'ioc:public';
/** Metadata key: the least role a route needs (ROLES order: viewer < operator < admin). */
export const REQUIRED_ROLE = 'ioc:required-role';

/** The route (or every route of the controller) answers without authentication. */
export const Public = (): ReturnType<typeof SetMetadata> => SetMetadata(IS_PUBLIC, true);

/**
 * The least role the route (or controller) needs; a route with neither this nor `@Public()` needs
 * `viewer` (any authenticated principal). A principal below it gets 403 naming the role.
 */
export const Roles = (role: Role): ReturnType<typeof SetMetadata> => SetMetadata(REQUIRED_ROLE, role);

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
