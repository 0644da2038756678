import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEVELOPMENT_INTERNAL_SECRET } from '@ioc/bus';
import {
  DEVICE_TYPE_CONTRACTS,
  DOMAINS,
  METRIC_CATALOGUE,
  STATUS_METRICS,
  type DeviceType,
  type MetricValue,
  type Reading,
} from '@ioc/contracts';
import { ConfigError, parseEnv } from '@ioc/runtime';
import {
  describeWithInfluxd,
  describeWithServer,
  HAPROXY_RETRY_SETTINGS,
  type InfluxdHandle,
  startInfluxd,
  TempDirs,
} from '@ioc/testing';
import { createTimeSeriesStore, type TimeSeriesStore } from '@ioc/timeseries';
import { COMPOSE_ENV_EXAMPLE, composeEnvironments, readEnvFile } from './support/compose-env';
import {
  HELM_MISSING_MESSAGE,
  helmBinary,
  lintHelmChart,
  renderHelmChart,
  type RenderedManifest,
} from './support/helm-template';
import { envVariablesOf, PLATFORM_ENV_SCHEMAS, type PlatformProcess } from './support/platform-env';

/**
 * The deployment manifests — Dockerfile, deploy/docker-compose.yml (with HAProxy, Prometheus and
 * Grafana provisioning) and the Helm chart deploy/helm/ioc-platform — rendered and checked against
 * the platform itself: every environment variable they set is one the process reads, with a value
 * its schema accepts; the scale-out settings are there; ports agree between services, probes,
 * HAProxy and the environment; Grafana's data sources point at the services and every dashboard
 * query runs against the layout the InfluxDB adapter writes.
 *
 * Rendering: `docker-compose config` (Debian's docker-compose 1.29.2, no Docker daemon needed).
 * The Helm chart is rendered and linted by a real Helm 3 (`helm template`, `helm lint --strict`;
 * the binary comes from `node scripts/fetch-helm.js`, which .ci/run calls: Helm has no Debian
 * package). No image is built (no Docker daemon): the Dockerfile is checked for what it copies.
 */

const ROOT = resolve(__dirname, '..');
const DEPLOY = join(ROOT, 'deploy');
const COMPOSE_FILE = join(DEPLOY, 'docker-compose.yml');
const CHART = join(DEPLOY, 'helm', 'ioc-platform');
const DASHBOARDS = join(CHART, 'dashboards');

/**
 * Variables of the scale-out work of issue 12 that the manifests set before every env schema has
 * them (IOC_REDIS_URL is added to the broker's and the API's schemas by the broker and API
 * nodes' work). Accepted when a schema lacks them — and checked like every other variable as soon
 * as it has them; their values are checked here meanwhile. Empty once that work is merged.
 */
const PENDING_VARIABLES: Record<string, (value: string) => boolean> = {
  IOC_REDIS_URL: (value) => /^rediss?:\/\/[^/\s]+(\/\d+)?$/.test(value),
};

/**
 * What a node of a scaled-out deployment must have set explicitly, whatever the schema's default:
 * node ids (two nodes on the default would share an id), the shared stores, and every key the
 * nodes must share (a key generated per node would make each node refuse the others' secrets and
 * tokens).
 */
const REQUIRED_FOR_SCALE_OUT: Record<PlatformProcess, readonly string[]> = {
  broker: [
    'IOC_BROKER_ID',
    'IOC_REDIS_URL',
    'IOC_DATABASE_URL',
    'IOC_STORAGE',
    'IOC_INFLUX_URL',
    'IOC_INTERNAL_SECRET',
    'IOC_DEVICE_CREDENTIAL_KEY',
    'IOC_MQTT_PORT',
  ],
  api: [
    'IOC_NODE_ID',
    'IOC_REDIS_URL',
    'IOC_DATABASE_URL',
    'IOC_STORAGE',
    'IOC_INFLUX_URL',
    'IOC_INTERNAL_SECRET',
    'IOC_DEVICE_CREDENTIAL_KEY',
    'IOC_AUTH_TOKEN_SECRET',
    'IOC_WEBHOOK_SECRET_KEY',
    'IOC_BROKER_URL',
    'IOC_HTTP_PORT',
  ],
};

/** Which process a container runs: the image's command is the entry file. */
function processOf(command: unknown): PlatformProcess | undefined {
  const entry = Array.isArray(command) ? String(command[0]) : String(command ?? '');
  const match = /^apps\/(broker|api)\/src\/main\.ts$/.exec(entry);
  return match ? (match[1] as PlatformProcess) : undefined;
}

/**
 * The variables set for `process` that it does not read (pending ones aside), and the problems
 * parseEnv finds with the values — what a node would refuse at start, or silently ignore.
 */
function checkEnv(process: PlatformProcess, env: Record<string, string>): string[] {
  const known = envVariablesOf(process);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (known.has(name)) continue;
    const pending = PENDING_VARIABLES[name];
    if (pending === undefined) problems.push(`${name} is not read by the ${process}`);
    else if (!pending(value)) problems.push(`${name}: unexpected value ${value}`);
  }
  try {
    parseEnv(PLATFORM_ENV_SCHEMAS[process], env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  for (const name of REQUIRED_FOR_SCALE_OUT[process]) {
    if (env[name] === undefined || env[name] === '') problems.push(`${name} is required and not set`);
  }
  if (env['IOC_INTERNAL_SECRET'] === DEVELOPMENT_INTERNAL_SECRET)
    problems.push('IOC_INTERNAL_SECRET is the development default');
  return problems;
}

function urlOf(text: string | undefined): URL {
  if (text === undefined) throw new Error('URL not set');
  return new URL(text);
}

// ---- docker-compose ---------------------------------------------------------------------------

const dockerComposeAvailable = (): boolean =>
  spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: Array<{ published: number | string; target: number }>;
  /** `source:target[:mode]` in docker-compose 1.29's rendered form. */
  volumes?: string[];
  healthcheck?: { test: string[] };
}

/** A service's mounts: `bind` for a host path, `volume` for a named volume. */
function mountsOf(
  service: ComposeService,
): Array<{ type: 'bind' | 'volume'; source: string; target: string }> {
  return (service.volumes ?? []).map((text) => {
    const [source, target] = text.split(':') as [string, string];
    return { type: source.startsWith('/') ? 'bind' : 'volume', source, target };
  });
}

/** The secrets .env.example leaves empty, filled with random hex (as the README tells to). */
function exampleEnvWithSecrets(): { text: string; secrets: Record<string, string> } {
  const secrets: Record<string, string> = {};
  const lines = readFileSync(join(DEPLOY, '.env.example'), 'utf8')
    .split('\n')
    .map((line) => {
      const match = /^([A-Z0-9_]+)=$/.exec(line);
      if (!match) return line;
      secrets[match[1]!] = randomBytes(32).toString('hex');
      return `${match[1]}=${secrets[match[1]!]}`;
    });
  return { text: lines.join('\n'), secrets };
}

describeWithServer(
  'deploy/docker-compose.yml',
  {
    available: dockerComposeAvailable,
    missingMessage: 'docker-compose not found: apt-get install -y docker-compose (no daemon needed)',
  },
  () => {
    const temp = new TempDirs('ioc-compose-');
    let services: Record<string, ComposeService>;
    let secrets: Record<string, string>;
    let envFile: string;

    beforeAll(async () => {
      const dir = await temp.make();
      const example = exampleEnvWithSecrets();
      secrets = example.secrets;
      envFile = join(dir, '.env');
      writeFileSync(envFile, example.text);
      const rendered = execFileSync('docker-compose', ['-f', COMPOSE_FILE, '--env-file', envFile, 'config'], {
        encoding: 'utf8',
      });
      services = (parseYaml(rendered) as { services: Record<string, ComposeService> }).services;
    });
    afterAll(() => temp.removeAll());

    const envOf = (name: string): Record<string, string> =>
      Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [key, String(value ?? '')]),
      );
    const platformServices = (process?: PlatformProcess): string[] =>
      Object.keys(services).filter((name) => {
        const kind = processOf(services[name]!.command);
        return kind !== undefined && (process === undefined || kind === process);
      });

    it('refuses to render without the secrets .env.example leaves empty, naming one', () => {
      const result = spawnSync(
        'docker-compose',
        ['-f', COMPOSE_FILE, '--env-file', join(DEPLOY, '.env.example'), 'config'],
        { encoding: 'utf8' },
      );
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/set [A-Z_]+ in deploy\/\.env/);
      // Nothing in the example looks like a real secret: every secret there is empty.
      expect(Object.keys(secrets).sort()).toEqual(
        expect.arrayContaining(['IOC_AUTH_TOKEN_SECRET', 'IOC_DEVICE_CREDENTIAL_KEY', 'POSTGRES_PASSWORD']),
      );
    });

    it('composeEnvironments (for the multi-node tests) reads the same environments as docker-compose', () => {
      const environments = composeEnvironments(readEnvFile(envFile));
      expect(Object.keys(environments).sort()).toEqual(Object.keys(services).sort());
      for (const name of Object.keys(services))
        expect([name, environments[name]]).toEqual([name, envOf(name)]);
      expect(() => composeEnvironments(readEnvFile(COMPOSE_ENV_EXAMPLE))).toThrow(
        /set [A-Z_]+ in deploy\/\.env/,
      );
    });

    it('runs two broker nodes and two API nodes from the one image, and the stores', () => {
      expect(platformServices('broker')).toHaveLength(2);
      expect(platformServices('api')).toHaveLength(2);
      for (const name of ['influxdb', 'postgres', 'redis', 'haproxy', 'grafana', 'prometheus'])
        expect(services).toHaveProperty(name);
      const images = new Set(platformServices().map((name) => services[name]!.image));
      expect(images.size).toBe(1);
      // Redis keeps an append-only file.
      expect(services['redis']!.command!.join(' ')).toMatch(/--appendonly yes/);
    });

    it('sets on each node only variables its process reads, with values its schema accepts', () => {
      const problems = platformServices().flatMap((name) =>
        checkEnv(processOf(services[name]!.command)!, envOf(name)).map((problem) => `${name}: ${problem}`),
      );
      expect(problems).toEqual([]);
    });

    it('gives each node its own id and volume, and every node the same stores and keys', () => {
      const brokers = platformServices('broker');
      const apis = platformServices('api');
      expect(new Set(brokers.map((name) => envOf(name)['IOC_BROKER_ID'])).size).toBe(brokers.length);
      expect(new Set(apis.map((name) => envOf(name)['IOC_NODE_ID'])).size).toBe(apis.length);
      const shared = (names: string[], variable: string) =>
        new Set(names.map((name) => envOf(name)[variable]));
      for (const variable of [
        'IOC_REDIS_URL',
        'IOC_DATABASE_URL',
        'IOC_INFLUX_URL',
        'IOC_INTERNAL_SECRET',
        'IOC_DEVICE_CREDENTIAL_KEY',
      ])
        expect([variable, shared([...brokers, ...apis], variable).size]).toEqual([variable, 1]);
      for (const variable of ['IOC_AUTH_TOKEN_SECRET', 'IOC_WEBHOOK_SECRET_KEY'])
        expect([variable, shared(apis, variable).size]).toEqual([variable, 1]);
      // The secrets come from the env file, not from the compose file.
      expect(envOf(brokers[0]!)['IOC_DEVICE_CREDENTIAL_KEY']).toBe(secrets['IOC_DEVICE_CREDENTIAL_KEY']);
      expect(envOf(apis[0]!)['IOC_AUTH_TOKEN_SECRET']).toBe(secrets['IOC_AUTH_TOKEN_SECRET']);
      // Each node's local state (a broker's spool) on a volume of its own, at IOC_DATA_DIR.
      const dataVolumes = [...brokers, ...apis].map((name) => {
        const volume = mountsOf(services[name]!).find((v) => v.target === envOf(name)['IOC_DATA_DIR']);
        expect([name, volume?.type]).toEqual([name, 'volume']);
        return volume!.source;
      });
      expect(new Set(dataVolumes).size).toBe(dataVolumes.length);
    });

    it('points every node at the store services, on the ports they listen on', () => {
      const influxConf = readFileSync(join(DEPLOY, 'influxdb', 'influxdb.conf'), 'utf8');
      const influxHttpPort = /\[http\][^[]*?bind-address\s*=\s*":(\d+)"/s.exec(influxConf)?.[1];
      const influxEnv = envOf('influxdb');
      for (const name of platformServices()) {
        const env = envOf(name);
        const influx = urlOf(env['IOC_INFLUX_URL']);
        expect([name, influx.hostname, influx.port]).toEqual([name, 'influxdb', influxHttpPort]);
        // The platform's InfluxDB user is the admin the image creates (it creates the database,
        // retention policies and continuous queries), with the same password.
        expect(env['IOC_INFLUX_USER']).toBe(influxEnv['INFLUXDB_ADMIN_USER']);
        expect(env['IOC_INFLUX_PASSWORD']).toBe(influxEnv['INFLUXDB_ADMIN_PASSWORD']);
        expect(env['IOC_INFLUX_DB']).toBe(influxEnv['INFLUXDB_DB']);
        const database = urlOf(env['IOC_DATABASE_URL']);
        expect([database.hostname, database.port, database.pathname]).toEqual([
          'postgres',
          '5432',
          `/${envOf('postgres')['POSTGRES_DB']}`,
        ]);
        expect(decodeURIComponent(database.username)).toBe(envOf('postgres')['POSTGRES_USER']);
        expect(decodeURIComponent(database.password)).toBe(envOf('postgres')['POSTGRES_PASSWORD']);
        const redis = urlOf(env['IOC_REDIS_URL']);
        expect([redis.hostname, redis.port || '6379']).toEqual(['redis', '6379']);
        expect(services['redis']!.command).toEqual(
          expect.arrayContaining(['--requirepass', decodeURIComponent(redis.password)]),
        );
      }
    });

    it('HAProxy balances MQTT over the brokers and HTTP over the API nodes on the ports they listen on', () => {
      const haproxy = parseHaproxy(readFileSync(join(DEPLOY, 'haproxy', 'haproxy.cfg'), 'utf8'));
      const backendOf = (frontend: string) => haproxy.sections.get(`frontend ${frontend}`)!.defaultBackend!;
      const serversOf = (backend: string) =>
        haproxy.sections
          .get(`backend ${backend}`)!
          .servers.map(({ host, port }) => `${host}:${port}`)
          .sort();
      expect(serversOf(backendOf('mqtt'))).toEqual(
        platformServices('broker')
          .map((name) => `${name}:${envOf(name)['IOC_MQTT_PORT']}`)
          .sort(),
      );
      expect(serversOf(backendOf('http'))).toEqual(
        platformServices('api')
          .map((name) => `${name}:${envOf(name)['IOC_HTTP_PORT']}`)
          .sort(),
      );
      // Every server is health-checked; the API ones on GET /health/ready (the node's own readiness).
      for (const backend of [backendOf('mqtt'), backendOf('http')])
        for (const server of haproxy.sections.get(`backend ${backend}`)!.servers)
          expect([server.host, server.options]).toEqual([server.host, expect.stringMatching(/\bcheck\b/)]);
      expect(haproxy.sections.get(`backend ${backendOf('http')}`)!.lines).toEqual(
        expect.arrayContaining([
          'http-check send meth GET uri /health/ready',
          'http-check expect status 200',
        ]),
      );
      // A failed connection is retried on another node, as the test harness's HAProxy does; an
      // HTTP request is retried after a node closed without answering only if it is a GET/HEAD.
      expect(haproxy.sections.get('defaults')!.lines).toEqual(
        expect.arrayContaining([...HAPROXY_RETRY_SETTINGS]),
      );
      expect(haproxy.sections.get(`backend ${backendOf('http')}`)!.lines).toEqual(
        expect.arrayContaining([
          'retry-on conn-failure empty-response',
          'http-request disable-l7-retry unless METH_GET',
        ]),
      );
      // A dead node is marked down within seconds: every server is checked with the defaults' timings
      // (no server line overrides them), 2 s, 500 ms after a failure, down after 2 failures.
      expect(haproxy.sections.get('defaults')!.lines).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^default-server .*\binter 2s fastinter 500ms fall 2 rise 2\b/),
        ]),
      );
      for (const backend of [backendOf('mqtt'), backendOf('http')])
        for (const server of haproxy.sections.get(`backend ${backend}`)!.servers)
          expect([server.name, server.options]).toEqual([
            server.name,
            expect.not.stringMatching(/\b(inter|fall|rise)\b/),
          ]);
      // The published ports reach HAProxy's frontends.
      const published = (services['haproxy']!.ports ?? []).map((port) => port.target).sort();
      expect(published).toEqual(
        [
          haproxy.sections.get('frontend mqtt')!.bindPort,
          haproxy.sections.get('frontend http')!.bindPort,
        ].sort(),
      );
      // The API nodes reach the brokers through HAProxy's MQTT frontend.
      for (const name of platformServices('api')) {
        const broker = urlOf(envOf(name)['IOC_BROKER_URL']);
        expect([broker.protocol, broker.hostname, Number(broker.port)]).toEqual([
          'mqtt:',
          'haproxy',
          haproxy.sections.get('frontend mqtt')!.bindPort,
        ]);
      }
    });

    it("each node's health check probes the port its environment names", () => {
      for (const name of platformServices()) {
        const env = envOf(name);
        const port =
          processOf(services[name]!.command) === 'broker' ? env['IOC_MQTT_PORT'] : env['IOC_HTTP_PORT'];
        const test = services[name]!.healthcheck!.test.join(' ');
        expect([name, test]).toEqual([
          name,
          expect.stringContaining(port === undefined ? '?' : String(port)),
        ]);
        if (processOf(services[name]!.command) === 'api') expect(test).toContain(`:${port}/health`);
        else expect(test).toContain(`connect(${port},`);
      }
    });

    it('Prometheus scrapes every API node on its metrics listener', () => {
      const prometheus = parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
        scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
      };
      const targets = prometheus.scrape_configs.flatMap((job) =>
        job.static_configs.flatMap((c) => c.targets),
      );
      expect(prometheus.scrape_configs.every((job) => job.metrics_path === '/metrics')).toBe(true);
      expect(targets.sort()).toEqual(
        platformServices('api')
          .map((name) => `${name}:${envOf(name)['IOC_METRICS_PORT']}`)
          .sort(),
      );
      for (const name of platformServices('api')) expect(envOf(name)['IOC_METRICS_HOST']).toBe('0.0.0.0');
    });

    it("Grafana's data sources point at the InfluxDB and Prometheus services, its dashboards at them", () => {
      const provisioning = parseYaml(
        readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'ioc.yml'), 'utf8'),
      ) as { datasources: Array<Record<string, unknown> & { jsonData?: Record<string, unknown> }> };
      const influx = provisioning.datasources.find((source) => source['type'] === 'influxdb')!;
      const platform = envOf(platformServices('api')[0]!);
      expect(influx['url']).toBe(platform['IOC_INFLUX_URL']);
      expect(influx.jsonData?.['dbName']).toBe(platform['IOC_INFLUX_DB']);
      expect(influx['user']).toBe(envOf('influxdb')['INFLUXDB_READ_USER']);
      // The password is Grafana's environment variable, set from the same secret as InfluxDB's.
      const passwordVariable = /^\$(\w+)$/.exec(
        String((influx['secureJsonData'] as Record<string, string>)['password']),
      )?.[1];
      expect(envOf('grafana')[passwordVariable!]).toBe(envOf('influxdb')['INFLUXDB_READ_USER_PASSWORD']);
      const prometheus = provisioning.datasources.find((source) => source['type'] === 'prometheus')!;
      expect(urlOf(String(prometheus['url'])).hostname).toBe('prometheus');
      // The provisioning directory and the dashboards are mounted where the provider looks.
      const provider = (
        parseYaml(readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'ioc.yml'), 'utf8')) as {
          providers: Array<{ options: { path: string } }>;
        }
      ).providers[0]!;
      const mounts = mountsOf(services['grafana']!);
      expect(mounts.find((m) => m.target === provider.options.path)?.source).toBe(DASHBOARDS);
      expect(mounts.find((m) => m.target === '/etc/grafana/provisioning')?.source).toBe(
        join(DEPLOY, 'grafana', 'provisioning'),
      );
      const uids = new Set(provisioning.datasources.map((source) => source['uid']));
      for (const dashboard of loadDashboards())
        for (const target of dashboardTargets(dashboard))
          expect([dashboard.uid, target.datasource.uid, uids.has(target.datasource.uid)]).toEqual([
            dashboard.uid,
            target.datasource.uid,
            true,
          ]);
    });

    it('mounts only files that exist', () => {
      for (const [name, service] of Object.entries(services))
        for (const mount of mountsOf(service))
          if (mount.type === 'bind')
            expect([name, mount.source, existsSync(mount.source)]).toEqual([name, mount.source, true]);
    });
  },
);

describeWithServer(
  'deploy/haproxy/haproxy.cfg',
  {
    available: () => spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0,
    missingMessage: 'haproxy not found: apt-get install -y haproxy',
  },
  () => {
    it('is valid for HAProxy (haproxy -c), with no warning but the unresolvable compose hosts', () => {
      const result = spawnSync('haproxy', ['-c', '-f', join(DEPLOY, 'haproxy', 'haproxy.cfg')], {
        encoding: 'utf8',
      });
      expect(result.status).toBe(0);
      const warnings = `${result.stdout}${result.stderr}`
        .split('\n')
        .filter(
          (line) => line.includes('[WARNING]') && !/could not resolve address '(broker|api)-\d+'/.test(line),
        );
      expect(warnings).toEqual([]);
    });
  },
);

/** Frontends' bind ports, default backends, and backends' server lines of an haproxy.cfg. */
function parseHaproxy(text: string): {
  sections: Map<
    string,
    {
      lines: string[];
      bindPort?: number;
      defaultBackend?: string;
      servers: Array<{ name: string; host: string; port: number; options: string }>;
    }
  >;
} {
  const sections = new Map<
    string,
    {
      lines: string[];
      bindPort?: number;
      defaultBackend?: string;
      servers: Array<{ name: string; host: string; port: number; options: string }>;
    }
  >();
  let current: ReturnType<typeof sections.get>;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trimEnd();
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      current = { lines: [], servers: [] };
      sections.set(line.trim(), current);
      continue;
    }
    const content = line.trim();
    current!.lines.push(content);
    const bind = /^bind\s+\S*:(\d+)/.exec(content);
    if (bind) current!.bindPort = Number(bind[1]);
    const backend = /^default_backend\s+(\S+)/.exec(content);
    if (backend) current!.defaultBackend = backend[1]!;
    const server = /^server\s+(\S+)\s+([^:\s]+):(\d+)\s*(.*)$/.exec(content);
    if (server)
      current!.servers.push({
        name: server[1]!,
        host: server[2]!,
        port: Number(server[3]),
        options: server[4]!,
      });
  }
  return { sections };
}

// ---- Grafana dashboards -----------------------------------------------------------------------

interface DashboardTarget {
  refId: string;
  datasource: { type: string; uid: string };
  query?: string;
  expr?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Array<{ title: string; targets: DashboardTarget[] }>;
  templating: { list: Array<{ name: string; query: string; datasource: { uid: string } }> };
}

function loadDashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(DASHBOARDS, name), 'utf8')) as Dashboard);
}

function dashboardTargets(dashboard: Dashboard): DashboardTarget[] {
  return dashboard.panels.flatMap((panel) => panel.targets);
}

/** Metric names the API's /metrics renders (libs/ops-api prometheus-metrics.ts). */
function exposedMetricNames(): Set<string> {
  const source = readFileSync(
    join(ROOT, 'libs', 'ops-api', 'src', 'ingest', 'prometheus-metrics.ts'),
    'utf8',
  );
  return new Set([...source.matchAll(/'(ioc_[a-z0-9_]+)'/g)].map((match) => match[1]!));
}

describe('Grafana dashboards (deploy/helm/ioc-platform/dashboards)', () => {
  it('one per domain and one for the ingest health, with distinct uids', () => {
    const dashboards = loadDashboards();
    expect(readdirSync(DASHBOARDS).sort()).toEqual(
      [...DOMAINS, 'ingest-health'].map((name) => `${name}.json`).sort(),
    );
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    for (const domain of DOMAINS) {
      const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, `${domain}.json`), 'utf8')) as Dashboard;
      // Every InfluxDB query of a domain's dashboard is about that domain.
      for (const target of dashboardTargets(dashboard).filter((t) => t.datasource.type === 'influxdb'))
        expect([dashboard.uid, target.query]).toEqual([
          dashboard.uid,
          expect.stringContaining(`"domain" = '${domain}'`),
        ]);
    }
  });

  it('their Prometheus queries use metrics the API exposes on /metrics', () => {
    const exposed = exposedMetricNames();
    expect(exposed.size).toBeGreaterThan(10);
    const used = loadDashboards()
      .flatMap(dashboardTargets)
      .flatMap((target) => [...(target.expr ?? '').matchAll(/\b(ioc_[a-z0-9_]+)\b/g)].map((m) => m[1]!));
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('the ingest-health dashboard counts the telemetry of every device type', () => {
    const health = loadDashboards().find((d) => d.uid === 'ioc-ingest-health')!;
    const queries = dashboardTargets(health)
      .map((t) => t.query ?? '')
      .join('\n');
    for (const type of Object.keys(DEVICE_TYPE_CONTRACTS))
      expect(queries).toContain(`"deviceType" = '${type}'`);
  });
});

/** A value of each metric within its catalogue range (enums: a value other than "none"). */
function sampleValue(metric: string): MetricValue {
  const definition = METRIC_CATALOGUE[metric as keyof typeof METRIC_CATALOGUE];
  switch (definition.kind) {
    case 'number':
      return (definition.min + definition.max) / 2;
    case 'integer':
      return Math.round((definition.min + definition.max) / 2);
    case 'boolean':
      return true;
    case 'enum':
      return definition.values.find((value) => value !== 'none')!;
    case 'text':
      return '1.0';
  }
}

/** Telemetry with every metric of each device type, every camera event, and a status message, in area-a. */
function sampleReadings(ts: number): Reading[] {
  const readings: Reading[] = [];
  const metricsOf = (names: readonly string[]) => Object.fromEntries(names.map((m) => [m, sampleValue(m)]));
  for (const [type, contract] of Object.entries(DEVICE_TYPE_CONTRACTS) as Array<
    [DeviceType, (typeof DEVICE_TYPE_CONTRACTS)[DeviceType]]
  >) {
    const base = {
      deviceId: `dev-${type}`,
      deviceType: type,
      domain: contract.domain,
      areaId: 'area-a',
      areaPath: ['area-a'],
      location: { lat: 21.6, lon: 105.8 },
    };
    readings.push({
      ...base,
      kind: 'telemetry',
      ts,
      metrics: metricsOf([
        ...contract.telemetry.required,
        ...contract.telemetry.optional,
        ...contract.derived,
      ]),
    });
    readings.push({ ...base, kind: 'status', ts, metrics: metricsOf(STATUS_METRICS) });
    for (const [event, metrics] of Object.entries(contract.events) as Array<
      [string, { required: readonly string[]; optional: readonly string[] }]
    >)
      readings.push({
        ...base,
        kind: 'event',
        event,
        ts,
        metrics: metricsOf([...metrics.required, ...metrics.optional]),
      });
  }
  return readings;
}

describeWithInfluxd('Grafana dashboards against the InfluxDB layout the platform writes', () => {
  let influxd: InfluxdHandle;
  let store: TimeSeriesStore;

  beforeAll(async () => {
    influxd = await startInfluxd();
    store = createTimeSeriesStore({
      storage: 'influxdb',
      thread: 'caller',
      url: influxd.url,
      database: 'ioc',
      maintenanceIntervalMs: 0,
    });
    await store.init();
    await store.write(sampleReadings(Date.now() - 5 * 60_000));
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await influxd?.stop();
  });

  /** Runs InfluxQL as Grafana would, with its variables: last hour, 1-minute buckets, all areas. */
  async function query(text: string): Promise<{ error?: string; series: unknown[][] }> {
    const q = text
      .replaceAll('$timeFilter', 'time > now() - 1h')
      .replaceAll('$__interval', '1m')
      .replaceAll('/^$area$/', '/^.*$/');
    const response = await fetch(`${influxd.url}/query?db=ioc&q=${encodeURIComponent(q)}`);
    const body = (await response.json()) as {
      error?: string;
      results: Array<{ error?: string; series?: Array<{ values: unknown[][] }> }>;
    };
    const result = body.results?.[0];
    return {
      ...((body.error ?? result?.error) ? { error: body.error ?? result?.error } : {}),
      series: (result?.series ?? []).map((series) => series.values.flat()),
    };
  }

  it('every InfluxDB panel query runs and finds the readings of its domain', async () => {
    const empty: string[] = [];
    for (const dashboard of loadDashboards())
      for (const panel of dashboard.panels)
        for (const target of panel.targets.filter((t) => t.datasource.type === 'influxdb')) {
          const answer = await query(target.query!);
          expect([dashboard.uid, panel.title, answer.error]).toEqual([dashboard.uid, panel.title, undefined]);
          // At least one bucket with a value other than null (fill(0) buckets are 0, not data).
          const values = answer.series.flat().filter((v) => typeof v === 'number' && v !== 0);
          if (values.length === 0) empty.push(`${dashboard.uid} / ${panel.title} / ${target.refId}`);
        }
    expect(empty).toEqual([]);
  });

  it("every dashboard's area variable lists the areas of its domain", async () => {
    for (const dashboard of loadDashboards())
      for (const variable of dashboard.templating.list) {
        const answer = await query(variable.query);
        expect([dashboard.uid, answer.error]).toEqual([dashboard.uid, undefined]);
        expect([dashboard.uid, answer.series.flat()]).toEqual([
          dashboard.uid,
          expect.arrayContaining(['area-a']),
        ]);
      }
  });
});

// ---- Helm chart ---------------------------------------------------------------------------------

/** Values for every required secret (random, as an operator would set them). */
function chartSecrets(): Record<string, unknown> {
  const hex = () => randomBytes(32).toString('hex');
  return {
    secrets: {
      platform: {
        IOC_DATABASE_URL: `postgres://ioc:${hex()}@postgres.db:5432/ioc`,
        IOC_REDIS_URL: `redis://:${hex()}@redis.cache:6379`,
        IOC_INFLUX_PASSWORD: hex(),
        IOC_INTERNAL_SECRET: hex(),
        IOC_DEVICE_CREDENTIAL_KEY: hex(),
      },
      api: {
        IOC_AUTH_TOKEN_SECRET: hex(),
        IOC_WEBHOOK_SECRET_KEY: hex(),
        IOC_ADMIN_PASSWORD: hex(),
        IOC_METRICS_TOKEN: hex(),
      },
    },
  };
}

type Manifest = Record<string, unknown> & {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
};
type Container = {
  name: string;
  args: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
};
type Probe = {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: { command: string[] };
};
type Workload = Manifest & {
  spec: {
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
};

describeWithServer(
  'the Helm chart deploy/helm/ioc-platform (rendered by helm template)',
  { available: () => helmBinary() !== undefined, missingMessage: HELM_MISSING_MESSAGE },
  () => {
    const release = 'ioc';
    let manifests: Manifest[];

    beforeAll(() => {
      manifests = renderHelmChart(CHART, {
        releaseName: release,
        values: {
          ...chartSecrets(),
          serviceMonitor: { enabled: true },
          grafana: { dashboards: true, datasources: true },
        },
      }).map((m: RenderedManifest) => m.document as Manifest);
    });

    /** The rendered manifest of that kind and name, typed as the caller reads it. */
    function find<T = Manifest>(kind: string, name: string): T {
      const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
      if (!found) throw new Error(`${kind} ${name} not rendered`);
      return found as unknown as T;
    }
    const workloads = (): Array<{ process: PlatformProcess; workload: Workload; container: Container }> =>
      manifests
        .filter((m) => m.kind === 'StatefulSet' || m.kind === 'Deployment')
        .map((m) => {
          const workload = m as Workload;
          const container = workload.spec.template.spec.containers[0]!;
          return { process: processOf(container.args)!, workload, container };
        });

    /** The container's environment as the kubelet builds it; fieldRefs as they resolve for pod 0. */
    function containerEnv(workload: Workload, container: Container): Record<string, string> {
      const env: Record<string, string> = {};
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef) {
          Object.assign(
            env,
            find<{ data: Record<string, string> }>('ConfigMap', source.configMapRef.name).data,
          );
        } else if (source.secretRef) {
          const data = find<{ data: Record<string, string> }>('Secret', source.secretRef.name).data;
          for (const [key, value] of Object.entries(data))
            env[key] = Buffer.from(value, 'base64').toString('utf8');
        }
      }
      for (const variable of container.env ?? []) {
        const field = variable.valueFrom?.fieldRef?.fieldPath;
        if (variable.value !== undefined) env[variable.name] = variable.value;
        else if (field === "metadata.labels['apps.kubernetes.io/pod-index']") env[variable.name] = '0';
        else if (field === 'metadata.name')
          // A Deployment pod's name: <deployment>-<pod-template-hash, 10>-<suffix, 5>.
          env[variable.name] = `${workload.metadata.name}-7d9f8c6b5d-x2x7q`;
        else throw new Error(`${variable.name}: unexpected valueFrom ${JSON.stringify(variable.valueFrom)}`);
      }
      return env;
    }

    it('passes helm lint --strict with the secrets set', () => {
      expect(lintHelmChart(CHART, chartSecrets())).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    it('refuses to render without the secrets, naming the first one missing', () => {
      expect(() => renderHelmChart(CHART, { releaseName: release })).toThrow(
        /secrets\.platform\.IOC_DATABASE_URL is required/,
      );
    });

    it('runs brokers as a StatefulSet with a volume claim per node, API nodes as a Deployment', () => {
      const broker = find<Workload>('StatefulSet', `${release}-broker`);
      const container = broker.spec.template.spec.containers[0]!;
      expect(processOf(container.args)).toBe('broker');
      const claim = broker.spec.volumeClaimTemplates![0]!.metadata.name;
      const env = containerEnv(broker, container);
      expect(container.volumeMounts).toContainEqual({ name: claim, mountPath: env['IOC_DATA_DIR'] });
      // The broker id is the pod's ordinal, stable for the node and its volume.
      expect(container.env).toContainEqual({
        name: 'IOC_BROKER_ID',
        valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
      });
      // Its governing Service is headless.
      expect(find<{ spec: { clusterIP: string } }>('Service', broker.spec.serviceName!).spec.clusterIP).toBe(
        'None',
      );
      const api = find<Workload>('Deployment', `${release}-api`);
      expect(processOf(api.spec.template.spec.containers[0]!.args)).toBe('api');
    });

    it('sets on each workload only variables its process reads, with values its schema accepts', () => {
      const problems = workloads().flatMap(({ process, workload, container }) =>
        checkEnv(process, containerEnv(workload, container)).map(
          (problem) => `${workload.metadata.name}: ${problem}`,
        ),
      );
      expect(problems).toEqual([]);
      // Every key of the values' env maps is one of those variables (values.yaml is the interface).
      const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
        env: Record<string, string>;
        broker: { env: Record<string, string> };
        api: { env: Record<string, string> };
        secrets: { platform: Record<string, string>; api: Record<string, string> };
      };
      const both = (name: string) => envVariablesOf('broker').has(name) && envVariablesOf('api').has(name);
      const unknown = [
        ...Object.keys(values.env).filter((name) => !both(name)),
        ...Object.keys(values.broker.env ?? {}).filter((name) => !envVariablesOf('broker').has(name)),
        ...Object.keys(values.api.env ?? {}).filter((name) => !envVariablesOf('api').has(name)),
        ...Object.keys(values.secrets.platform).filter((name) => !both(name) && !(name in PENDING_VARIABLES)),
        ...Object.keys(values.secrets.api).filter((name) => !envVariablesOf('api').has(name)),
      ];
      expect(unknown).toEqual([]);
    });

    it('ports agree between the environment, the containers, the probes and the Services', () => {
      for (const { process, workload, container } of workloads()) {
        const env = containerEnv(workload, container);
        const port = Number(process === 'broker' ? env['IOC_MQTT_PORT'] : env['IOC_HTTP_PORT']);
        const named = process === 'broker' ? 'mqtt' : 'http';
        expect(container.ports).toContainEqual({ name: named, containerPort: port, protocol: 'TCP' });
        for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
          expect(probe).toBeDefined();
          const target = probe!.httpGet?.port ?? probe!.tcpSocket?.port;
          if (target !== undefined) expect(target).toBe(named);
          else expect(probe!.exec!.command.join(' ')).toContain(`http://127.0.0.1:${port}/health`);
        }
        if (process === 'api')
          expect(container.readinessProbe!.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      }
      // Each Service selects the pods of one workload and targets a port their container names.
      for (const service of manifests.filter((m) => m.kind === 'Service') as Array<
        Manifest & {
          spec: { selector: Record<string, string>; ports: Array<{ targetPort: string; port: number }> };
        }
      >) {
        const selected = workloads().filter(({ workload }) =>
          Object.entries(service.spec.selector).every(
            ([key, value]) => workload.spec.template.metadata.labels[key] === value,
          ),
        );
        expect([service.metadata.name, selected.length]).toEqual([service.metadata.name, 1]);
        for (const port of service.spec.ports)
          expect(selected[0]!.container.ports.map((p) => p.name)).toContain(port.targetPort);
      }
      // Workload selectors match their own pod labels.
      for (const { workload } of workloads())
        for (const [key, value] of Object.entries(workload.spec.selector.matchLabels))
          expect(workload.spec.template.metadata.labels[key]).toBe(value);
      // API nodes reach the brokers through the MQTT Service, on its port.
      const api = workloads().find((w) => w.process === 'api')!;
      const brokerUrl = urlOf(containerEnv(api.workload, api.container)['IOC_BROKER_URL']);
      const mqtt = find<{ spec: { ports: Array<{ port: number }> } }>('Service', brokerUrl.hostname);
      expect(mqtt.spec.ports[0]!.port).toBe(Number(brokerUrl.port));
    });

    it('the ServiceMonitor scrapes /metrics on the API Service with the metrics token', () => {
      const monitor = find<{
        spec: {
          selector: { matchLabels: Record<string, string> };
          endpoints: Array<{
            port: string;
            path: string;
            authorization: { type: string; credentials: { name: string; key: string } };
          }>;
        };
      }>('ServiceMonitor', `${release}-api`);
      const services = (
        manifests.filter((m) => m.kind === 'Service') as Array<
          Manifest & { spec: { ports: Array<{ name: string }> } }
        >
      ).filter((service) =>
        Object.entries(monitor.spec.selector.matchLabels).every(
          ([k, v]) => service.metadata.labels?.[k] === v,
        ),
      );
      expect(services.map((s) => s.metadata.name)).toEqual([`${release}-http`]);
      const endpoint = monitor.spec.endpoints[0]!;
      expect(services[0]!.spec.ports.map((p) => p.name)).toContain(endpoint.port);
      expect(endpoint.path).toBe('/metrics');
      expect(endpoint.authorization.type).toBe('Bearer');
      const secret = find<{ data: Record<string, string> }>(
        'Secret',
        endpoint.authorization.credentials.name,
      );
      expect(secret.data[endpoint.authorization.credentials.key]).toBeDefined();
      // The API pods read the same key as IOC_METRICS_TOKEN.
      expect(endpoint.authorization.credentials.key).toBe('IOC_METRICS_TOKEN');
    });

    it("Grafana's ConfigMaps carry every dashboard and a data source pointing at IOC_INFLUX_URL", () => {
      const dashboards = find<{ data: Record<string, string> }>('ConfigMap', `${release}-grafana-dashboards`);
      expect(Object.keys(dashboards.data).sort()).toEqual(readdirSync(DASHBOARDS).sort());
      for (const [name, text] of Object.entries(dashboards.data))
        expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(join(DASHBOARDS, name), 'utf8')));
      const datasources = find<{ data: Record<string, string> }>(
        'ConfigMap',
        `${release}-grafana-datasources`,
      );
      const provisioning = parseYaml(Object.values(datasources.data)[0]!) as {
        datasources: Array<{ type: string; url: string; uid: string; jsonData?: { dbName?: string } }>;
      };
      const platform = find<{ data: Record<string, string> }>('ConfigMap', `${release}-platform`);
      const influx = provisioning.datasources.find((source) => source.type === 'influxdb')!;
      expect(influx.url).toBe(platform.data['IOC_INFLUX_URL']);
      expect(influx.jsonData?.dbName).toBe(platform.data['IOC_INFLUX_DB']);
      expect(provisioning.datasources.map((source) => source.uid).sort()).toEqual([
        'ioc-influxdb',
        'ioc-prometheus',
      ]);
    });
  },
);

// ---- Dockerfile -------------------------------------------------------------------------------

/** Whether .dockerignore excludes `path` (relative to the context): a pattern matches it or a parent. */
function dockerIgnored(path: string, patterns: string[]): boolean {
  const toRegExp = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\?/g, '[^/]')
        .replace(/\*\*\//g, '%DOUBLESTAR%')
        .replace(/\*/g, '[^/]*')
        .replace(/%DOUBLESTAR%/g, '(?:.*/)?')}(?:/.*)?$`,
    );
  return patterns.some((pattern) => toRegExp(pattern).test(path));
}

describe('Dockerfile (not built here: no Docker daemon)', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('copies only paths that exist in the repository and that .dockerignore lets through', () => {
    const copies = instructions
      .filter((line) => /^COPY\s/.test(line) && !/--from=/.test(line))
      .flatMap((line) =>
        line
          .split(/\s+/)
          .slice(1, -1)
          .filter((part) => !part.startsWith('--')),
      );
    expect(copies.length).toBeGreaterThan(5);
    for (const source of copies) {
      expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
      expect([source, dockerIgnored(source, ignore)]).toEqual([source, false]);
    }
    // Stages copied from are defined.
    const stages = new Set(
      [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()),
    );
    for (const match of dockerfile.matchAll(/COPY\s+--from=(\S+)/g))
      expect(stages).toContain(match[1]!.toLowerCase());
  });

  it('runs the entry points the manifests name, as a non-root user, on node:20-bookworm-slim', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(instructions.filter((line) => line.startsWith('USER ')).at(-1)).toBe('USER node');
    const entrypoint = JSON.parse(
      instructions.find((l) => l.startsWith('ENTRYPOINT '))!.slice(11),
    ) as string[];
    expect(entrypoint).toEqual(['node', '-r', './scripts/register.js']);
    const copied = instructions
      .filter((line) => /^COPY\s/.test(line) && !/--from=/.test(line))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    const inImage = (file: string) =>
      copied.some((source) => file === source || file.startsWith(`${source}/`));
    expect(inImage('scripts/register.js')).toBe(true);
    for (const entry of ['apps/broker/src/main.ts', 'apps/api/src/main.ts']) {
      expect(inImage(entry)).toBe(true);
      expect(dockerIgnored(entry, ignore)).toBe(false);
    }
    // The apps parse exactly the schemas the manifests are checked against.
    expect(readFileSync(join(ROOT, 'apps', 'broker', 'src', 'main.ts'), 'utf8')).toContain(
      'parseEnv(brokerProcessEnvSchema)',
    );
    expect(readFileSync(join(ROOT, 'apps', 'api', 'src', 'main.ts'), 'utf8')).toContain(
      'parseEnv(apiEnvSchema)',
    );
  });

  it('.dockerignore keeps tests and local state out', () => {
    for (const path of [
      'libs/ingest/src/ingest-pipeline.spec.ts',
      'test/reading-path.e2e-spec.ts',
      'data/spool',
      'node_modules/x',
    ])
      expect([path, dockerIgnored(path, ignore)]).toEqual([path, true]);
  });
});
