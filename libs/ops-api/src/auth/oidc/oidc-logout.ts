import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AccessPort } from '../../access-port';
import { ACCESS, OIDC } from '../../tokens';
import { OidcLoginError } from './oidc-relying-party';
import type { OidcPort } from './oidc-port';

/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): the provider's end-session URL
 * for a session opened through SSO, which the logout answer carries for the console to follow.
 */
@Injectable()
export class OidcLogout {
  private readonly logger = new Logger('OidcLogout');

  constructor(
    @Inject(ACCESS) private readonly access: AccessPort,
    @Inject(OIDC) private readonly oidc: OidcPort | null,
  ) {}

  /**
   * The end-session URL (with the session's ID token as `id_token_hint`) when `sessionId` was
   * opened through SSO and SSO is on; undefined otherwise, or when the provider has no
   * end_session_endpoint or cannot be reached (the local session ends all the same: logged).
   */
  async endSessionUrl(sessionId: string): Promise<string | undefined> {
    if (!this.oidc) return undefined;
    const idToken = await this.access.sessions.oidcIdTokenOf(sessionId);
    if (idToken === undefined) return undefined;
    try {
      return (await this.oidc.relyingParty.endSessionUrl(idToken)) ?? undefined;
    } catch (error) {
      if (!(error instanceof OidcLoginError)) throw error;
      this.logger.warn(`no end-session URL for session ${sessionId}: ${error.message}`);
      return undefined;
    }
  }
}
