import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { selectDevices } from '@ioc/devices-sim';
import { loadSeeds } from '@ioc/registry';
import { type ApiSession, eventually, freePort, loginToApi, TempDirs } from '@ioc/testing';
import { EmbeddedTimeSeriesStore } from '@ioc/timeseries';
import { getJson } from './support/clients';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..');

interface Launched {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  httpUrl: string;
}

/** `npm start`'s launcher (scripts/start.js) on free ports and a temporary data directory. */
async function launch(dataDir: string, env: Record<string, string>): Promise<Launched> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['scripts/start.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      IOC_DATA_DIR: dataDir,
      IOC_MQTT_HOST: '127.0.0.1',
      IOC_MQTT_PORT: String(mqttPort),
      IOC_HTTP_HOST: '127.0.0.1',
      IOC_HTTP_PORT: String(httpPort),
      IOC_STORAGE: 'embedded',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`launcher exited early:\n${output}`);
      return output.includes('IOC platform running') ? true : undefined;
    },
    60_000,
    'the start banner',
  );
  return { child, output: () => output, exited, httpUrl: `http://127.0.0.1:${httpPort}` };
}

/** Logs in with the first admin's username and password as the banner prints them. */
async function bannerLogin(platform: Launched): Promise<ApiSession> {
  const line = /first admin +(\S+) \/ (\S+)/.exec(platform.output());
  if (!line) throw new Error(`the banner does not say how to log in:\n${platform.output()}`);
  return loginToApi(platform.httpUrl, line[1]!, line[2]!);
}

/** Pids of the launcher's children whose command line contains `script` (Linux /proc). */
function childPids(parent: number, script: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (after the parenthesised command name) is the parent pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parent) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(script)) pids.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

describe('npm start (scripts/start.js)', () => {
  const dirs = new TempDirs('ioc-start-');
  afterAll(() => dirs.removeAll());

  it('starts without the simulator when IOC_SIM_DEVICES=0, says so, and stops on Ctrl-C with exit 0', async () => {
    const platform = await launch(await dirs.make(), { IOC_SIM_DEVICES: '0' });
    try {
      expect(platform.output()).toMatch(/Simulator +off \(IOC_SIM_DEVICES=0\)/);
      expect(platform.output()).toMatch(/embedded defaults/);
      expect(platform.output()).toMatch(/Data +embedded SQLite in /);
      // The API's bus link comes up just after it listens: /health says 200 once both answer.
      await eventually(
        async () => ((await getJson(null, `${platform.httpUrl}/health`)).status === 200 ? true : undefined),
        15_000,
        '/health 200',
      );
      // Two commands and you can log in: the banner prints the first admin's generated password,
      // which the API accepts; the data are not readable without it.
      await bannerLogin(platform);
      expect((await getJson(null, `${platform.httpUrl}/api/v1/devices`)).status).toBe(401);
      // The operators' console: built by the launcher when missing or stale, named in the banner
      // with the login, and served at `/` by the API.
      const port = new URL(platform.httpUrl).port;
      expect(platform.output()).toMatch(
        new RegExp(`Console +http://localhost:${port}/ +\\(operators' console: log in as \\S+ / \\S+\\)`),
      );
      const page = await fetch(`${platform.httpUrl}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toBe(readFileSync(resolve(ROOT, 'dist', 'apps', 'console', 'index.html'), 'utf8'));
    } finally {
      platform.child.kill('SIGINT');
    }
    await expect(platform.exited).resolves.toBe(0);
  });

  it('stops the platform when a process dies, saying how to recover (npm start again on the same data directory)', async () => {
    const dataDir = await dirs.make();
    const platform = await launch(dataDir, { IOC_SIM_DEVICES: '0' });
    const [api] = childPids(platform.child.pid ?? -1, 'apps/api/src/main.ts');
    expect(api).toEqual(expect.any(Number));
    process.kill(api!, 'SIGKILL');
    await expect(platform.exited).resolves.toBe(1);
    expect(platform.output()).toContain(
      `[api] exited (SIGKILL); stopping the platform — run npm start again on the same data directory (${dataDir}) to recover: nothing acknowledged is lost`,
    );
    expect(platform.output()).toContain('[broker] stopping');
  });

  it('names the InfluxDB store in its banner when that is the store (and starts while it is down)', async () => {
    const influxUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens: the store is down
    const platform = await launch(await dirs.make(), {
      IOC_SIM_DEVICES: '0',
      IOC_STORAGE: 'influxdb',
      IOC_INFLUX_URL: influxUrl,
      IOC_INFLUX_DB: 'ioc_banner',
    });
    try {
      const banner = platform.output().slice(platform.output().indexOf('IOC platform running'));
      expect(banner).toMatch(/\(InfluxDB store; /);
      expect(banner).toContain(`Data              InfluxDB ${influxUrl} (database ioc_banner)`);
      expect(banner).not.toMatch(/embedded/);
    } finally {
      platform.child.kill('SIGINT');
    }
    await expect(platform.exited).resolves.toBe(0);
  });

  it('on Ctrl-C stops the simulator first, so its devices go offline and are stored, then the API, then the broker', async () => {
    const dataDir = await dirs.make();
    const platform = await launch(dataDir, { IOC_SIM_DEVICES: '6', IOC_SIM_RATE: '12' });
    const admin = await bannerLogin(platform);
    // Readings flow before the stop.
    await eventually(
      async () => {
        const stats = (await getJson(admin, `${platform.httpUrl}/api/v1/ingest/stats`)).body;
        return Number(stats['acceptedTotal']) > 12 ? true : undefined;
      },
      30_000,
      'readings accepted',
    );
    platform.child.kill('SIGINT');
    await expect(platform.exited).resolves.toBe(0);

    const out = platform.output();
    const order = ['[sim] stopping', '[api] stopping', '[broker] stopping'].map((line) => out.indexOf(line));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    // The simulator's devices said goodbye while the broker still ran, and the broker flushed
    // those statuses to the store before it exited.
    const store = new EmbeddedTimeSeriesStore({ dataDir });
    await store.init();
    try {
      const simulated = selectDevices(loadSeeds().devices, 6);
      for (const device of simulated) {
        expect({
          device: device.id,
          online: (await store.latest(device.id, ['online']))['online']?.value,
        }).toEqual({
          device: device.id,
          online: false,
        });
      }
    } finally {
      await store.close();
    }
  });
});
