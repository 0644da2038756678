import { createApiClient } from '@ioc/console-data';

/** The console's entry point: wires the console libraries into the page. */
async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) throw new Error('the page has no #app element');
  const api = createApiClient();
  const providers = await api.providers();
  root.textContent = providers.oidc.enabled ? `SSO: ${providers.oidc.name}` : 'IOC';
}

void main();
