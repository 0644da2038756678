import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { errorBody } from '@ioc/contracts';
import { PUBLIC_EXTENSION, ROLE_EXTENSION } from './common/auth.decorators';
import { openApiSchema } from './common/openapi-zod';
import { NO_RATE_LIMIT_EXTENSION } from './edge/rate-limit';

/** Names of the security schemes in the document. */
export const SECURITY_SCHEMES = {
  bearer: 'bearer',
  apiKey: 'apiKey',
  cookie: 'cookie',
  metricsToken: 'metricsToken',
} as const;

/** Serves the OpenAPI document at /api/docs-json and an explorer at /api/docs. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('IOC operations-centre API')
    .setDescription(
      'Devices, areas, latest values and history of the IoT readings the platform ingests; device provisioning (create, update, suspend, resume, retire, credentials, CSV/GeoJSON import and export) and the area tree; people, agencies and API keys. Every route but the public ones (security: []) needs one of: an access token from POST /api/v1/auth/login (`Authorization: Bearer …`), an agency API key (`X-API-Key: iocak_…` or `Authorization: Bearer iocak_…`), or the browser session cookie `ioc_session`. `x-ioc-role` names the least role of an operation (viewer < operator < admin). Every operation but GET /health is rate limited and may answer 429 (`reason` rate-limited, `Retry-After`). Live readings: socket.io namespace /live, authenticated in the handshake (`auth: {token}`: an access token or an API key; or the cookie) (emit "subscribe" with {domain|area|device}, receive "reading").',
    )
    .setVersion('1')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'access token from /api/v1/auth/login',
      },
      SECURITY_SCHEMES.bearer,
    )
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-API-Key', description: "an agency's API key (iocak_…)" },
      SECURITY_SCHEMES.apiKey,
    )
    .addCookieAuth(
      'ioc_session',
      { type: 'apiKey', in: 'cookie', description: 'browser session from a cookie login (httpOnly)' },
      SECURITY_SCHEMES.cookie,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description:
          'the metrics token IOC_METRICS_TOKEN (GET /metrics only; Prometheus `authorization: {credentials: …}`)',
      },
      SECURITY_SCHEMES.metricsToken,
    )
    .addSecurityRequirements(SECURITY_SCHEMES.bearer)
    .addSecurityRequirements(SECURITY_SCHEMES.apiKey)
    .addSecurityRequirements(SECURITY_SCHEMES.cookie)
    .build();
  const document = withAuthentication(SwaggerModule.createDocument(app, config));
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}

/**
 * The document's security per operation: a `@Public()` operation gets `security: []`, unless it
 * declares its own (`@ApiSecurity`: `/metrics`, checked by its own guard); every other one
 * inherits the document's schemes (any one of them) and answers 401 and 403 with the error body.
 * `x-ioc-role` (from `@Roles`, viewer when absent) names the least role. Every operation but the
 * `@NoRateLimit()` ones answers 429 with the error body and `Retry-After` (RateLimitModule).
 */
function withAuthentication(document: OpenAPIObject): OpenAPIObject {
  const error = (description: string, headers?: Record<string, unknown>) => ({
    description,
    ...(headers ? { headers } : {}),
    content: { 'application/json': { schema: openApiSchema(errorBody) } },
  });
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method] as
        (Record<string, unknown> & { responses: Record<string, unknown> }) | undefined;
      if (!operation) continue;
      if (operation[NO_RATE_LIMIT_EXTENSION] === true) delete operation[NO_RATE_LIMIT_EXTENSION];
      else
        operation.responses['429'] ??= error(
          'Rate limited (`reason` rate-limited; `limit` names the limit): retry after `Retry-After` seconds',
          { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer', minimum: 1 } } },
        );
      if (operation[PUBLIC_EXTENSION] === true) {
        delete operation[PUBLIC_EXTENSION];
        const own = operation['security'];
        if (!Array.isArray(own) || own.length === 0) operation['security'] = [];
        continue;
      }
      operation[ROLE_EXTENSION] ??= 'viewer';
      operation.responses['401'] ??= error(
        'No credentials, or invalid, expired or revoked ones (`reason` says which; `WWW-Authenticate: Bearer`)',
      );
      operation.responses['403'] ??= error(
        'Not allowed: `reason` role-required (`required` names the role) or out-of-scope (`outOfScope` names what)',
      );
    }
  }
  return document;
}
