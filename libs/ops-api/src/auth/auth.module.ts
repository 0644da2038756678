import { Module } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { AuditModule } from '../audit/audit.module';
import { APP_GUARD } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import type { AccessPort } from '../access-port';
import { ACCESS } from '../tokens';
import { AccountsController } from './accounts.controller';
import { AgenciesController } from './agencies.controller';
import { AuthController } from './auth.controller';
import { AuthEvents } from './auth-events';
import { AuthGuard } from './auth.guard';
import { Authenticator } from './authenticator';
import { LiveAuth } from './live-auth';
import { OidcLogout } from './oidc/oidc-logout';
import { OidcController } from './oidc/oidc.controller';

/**
 * Authentication and the people/agency admin routes: the global guard (every route needs a
 * principal unless `@Public()`; `@Roles` enforced), `/api/v1/auth/…`, `/api/v1/accounts`,
 * `/api/v1/agencies` (with keys and MQTT secrets), and the `/live` namespace's authentication
 * (LiveAuth, exported for the live module). Access tokens are HS256 JWTs signed with the access
 * port's token secret.
 */
@Module({
  // AuditTrail: the auth routes and the guard record their entries through it.
  imports: [AuditModule],
  controllers: [AuthController, AccountsController, AgenciesController, OidcController],
  providers: [
    {
      provide: JwtService,
      useFactory: (access: AccessPort) =>
        new JwtService({
          // A KeyObject, made once: given the raw bytes, jsonwebtoken first tries them as a public
          // key and fails (an exception) on every verification. Authenticating a token took 782 µs
          // (median) with the raw bytes, 312 µs with the KeyObject (bench/history-queries.ts,
          // "authenticating one request", this machine, 2026-11-30).
          secret: createSecretKey(access.tokenSecret),
          signOptions: { algorithm: 'HS256' },
          verifyOptions: { algorithms: ['HS256'] },
        }),
      inject: [ACCESS],
    },
    Authenticator,
    AuthEvents,
    LiveAuth,
    OidcLogout,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [Authenticator, AuthEvents, LiveAuth],
})
export class AuthModule {}
