import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { loadSeeds } from '@ioc/registry';
import { planScenario, SCENARIO_NAMES } from './scenarios';
import { mosquittoAvailable, type RunningMosquitto, startMosquitto } from './test-support/mosquitto';

const REPO_ROOT = resolve(__dirname, '..', '..');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ['-r', './scripts/register.js', 'devices-sim/src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.once('exit', (code) => done({ code, stdout, stderr })));
}

describe('devices-sim CLI scenario options', () => {
  jest.setTimeout(30_000);

  it('lists the scenarios and exits 0', async () => {
    const result = await cli(['--list-scenarios']);
    expect(result.code).toBe(0);
    for (const name of SCENARIO_NAMES) expect(result.stdout).toMatch(new RegExp(`^${name}: `, 'm'));
    expect(result.stdout).toContain('triggers: hourly VN_AQI ≥ 101');
  });

  it('refuses an unknown scenario with exit 2 and the list', async () => {
    const result = await cli(['--scenario', 'smog']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^devices-sim: unknown scenario "smog"; the scenarios are:/);
    for (const name of SCENARIO_NAMES) expect(result.stderr).toMatch(new RegExp(`^${name}: `, 'm'));
  });

  it.each([
    [['--area', 'tay-ninh-city'], '--area and --time-scale need --scenario'],
    [['--scenario', 'pollution-episode', '--area', 'atlantis'], 'unknown area "atlantis"'],
    [['--scenario', 'pollution-episode', '--area', 'ben-cau'], 'area "ben-cau" has no air-quality station'],
    [['--scenario', 'noisy-night', '--time-scale', '0'], '--time-scale must be a positive number, got "0"'],
    [['--scenario', 'noisy-night', '--mode', 'shared'], '--scenario needs --mode per-device'],
    [
      ['--scenario', 'noisy-night', '--devices', '5', '--exclusive'],
      '--exclusive goes with --scenario and without --devices',
    ],
    [['--exclusive'], '--exclusive goes with --scenario and without --devices'],
  ])('refuses %j with exit 2', async (args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('devices-sim CLI: a scenario alone, beside a platform that may feed the same devices', () => {
  jest.setTimeout(30_000);

  it('refuses the README-era command with exit 2, saying why and the ways that work, before connecting', async () => {
    // Nothing listens on this broker: the refusal must come first, not a connection error.
    const result = await cli([
      '--broker',
      'mqtt://127.0.0.1:9',
      '--scenario',
      'noisy-night',
      '--area',
      'trang-bang',
      '--time-scale',
      '360',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^devices-sim: scenario noisy-night stamps its readings on a simulated clock/,
    );
    expect(result.stderr).toContain('ignores these (counted as alertEngine.outOfOrder');
    expect(result.stderr).toContain('IOC_SIM_SCENARIO=noisy-night npm start');
    expect(result.stderr).toContain('npm run sim -- --scenario noisy-night --exclusive');
  });
});

// simulator.spec.ts reports a missing broker (and fails on CI); this part just follows it.
const describeWithBroker = mosquittoAvailable() ? describe : describe.skip;

describeWithBroker('devices-sim CLI running a scenario', () => {
  jest.setTimeout(60_000);
  const seeds = loadSeeds();
  let broker: RunningMosquitto;
  let subscriber: MqttClient;
  const received: { topic: string; body: { ts?: number; event?: string } }[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    subscriber = connect(broker.url, { reconnectPeriod: 0 });
    subscriber.on('message', (topic, payload, packet) => {
      if (!packet.retain) received.push({ topic, body: JSON.parse(payload.toString()) });
    });
    await new Promise<void>((done, fail) => {
      subscriber.once('connect', () => done());
      subscriber.once('error', fail);
    });
    await subscriber.subscribeAsync('ioc/v1/#', { qos: 1 });
  });
  afterAll(async () => {
    await subscriber?.endAsync();
    await broker?.stop();
  });

  it('runs only the scenario devices, prints each phase and exits 0 when it ends', async () => {
    const camera = planScenario('camera-incident', seeds).target.devices[0]?.id as string;
    const from = received.length;
    // ×420: the 7 simulated minutes in 1 s.
    const result = await cli([
      '--broker',
      broker.url,
      '--scenario',
      'camera-incident',
      '--time-scale',
      '420',
      '--exclusive',
    ]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('scenario camera-incident: '));
    expect(lines[0]).toMatch(new RegExp(`^scenario camera-incident: camera ${camera} in \\S+ → `));
    expect(lines.slice(1).map((line) => line.replace(/\d\d:\d\d/, 'HH:MM'))).toEqual([
      'scenario camera-incident: phase normal (simulated HH:MM local)',
      'scenario camera-incident: phase incident (simulated HH:MM local)',
      'scenario camera-incident: phase after (simulated HH:MM local)',
      'scenario camera-incident: ended (simulated HH:MM local)',
    ]);
    expect(result.stdout).toMatch(/^scenario camera-incident final: completed; .*published=7 acked=7 /m);
    const data = received.slice(from).filter(({ topic }) => /\/(telemetry|event)$/.test(topic));
    expect(new Set(data.map(({ topic }) => topic.split('/')[3]))).toEqual(new Set([camera]));
    expect(data.map(({ body }) => body.event).filter((e) => e === 'accident' || e === 'wrongWay')).toEqual([
      'accident',
      'wrongWay',
    ]);
    for (const { body } of data) expect(body.ts).toBeLessThanOrEqual(Date.now());
  });

  it('with --devices runs the feed beside it without the scenario devices, until --duration', async () => {
    const camera = planScenario('camera-incident', seeds).target.devices[0]?.id as string;
    const from = received.length;
    const result = await cli([
      '--broker',
      broker.url,
      '--scenario',
      'camera-incident',
      // ×140: 3 s, long enough for a feed that also simulated the camera to interleave with it.
      '--time-scale',
      '140',
      '--devices',
      '8',
      '--rate',
      '20',
      '--duration',
      '4',
    ]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^devices-sim: 8 devices /m);
    expect(result.stdout).toContain('scenario camera-incident: ended');
    expect(result.stdout).toMatch(/^final: .*published=\d+/m);
    expect(result.stdout).toMatch(/^scenario camera-incident final: completed; /m);
    // The feed's 8 devices (round-robin over the domains: one camera among them) leave the
    // scenario's camera out: its readings carry one clock, the scenario's, strictly increasing.
    const ofCamera = received
      .slice(from)
      .filter(({ topic }) => topic.split('/')[3] === camera && /\/(telemetry|event)$/.test(topic));
    expect(ofCamera.length).toBeGreaterThanOrEqual(7);
    ofCamera.forEach(({ body }, i) => {
      if (i > 0) expect(body.ts).toBeGreaterThan(ofCamera[i - 1]?.body.ts as number);
    });
    const otherCameras = received
      .slice(from)
      .filter(({ topic }) => topic.startsWith('ioc/v1/camera/') && topic.split('/')[3] !== camera);
    expect(otherCameras.length).toBeGreaterThan(0);
  });
});
