import { z } from 'zod';

/**
 * Single sign-on bodies (`/api/v1/auth/providers`, the SSO logout answer): what a console's login
 * page needs to offer "log in with SSO" next to the password form.
 */

/** `GET /api/v1/auth/providers` (public): how one may log in. */
export const authProvidersBody = z.object({
  password: z.literal(true).describe('Username and password logins (local accounts, kept for break-glass)'),
  oidc: z
    .discriminatedUnion('enabled', [
      z.object({ enabled: z.literal(false) }),
      z.object({
        enabled: z.literal(true),
        name: z.string().describe("The SSO button's label (IOC_OIDC_DISPLAY_NAME)"),
        loginUrl: z
          .string()
          .describe('Where the browser goes to log in through the provider (a full-page navigation)'),
      }),
    ])
    .describe('Single sign-on through an OpenID Connect provider'),
});
export type AuthProvidersBody = z.infer<typeof authProvidersBody>;
