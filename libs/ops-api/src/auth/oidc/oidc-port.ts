import type { OidcRelyingParty } from './oidc-relying-party';
import type { OidcSettings } from './oidc-settings';

/**
 * Single sign-on as the app hands it to the API module (OpsApiModuleOptions.oidc): the settings
 * (oidcSettingsFromEnv) and the relying party (createOidcRelyingParty, or another implementation
 * of the interface).
 */
export interface OidcPort {
  settings: OidcSettings;
  relyingParty: OidcRelyingParty;
}
