import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InternalBusClient, serviceClientId } from '@ioc/bus';
import { type CommandAckNotice, type Device, newCommandId, parsePayload, type Reading } from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { createLogger } from '@ioc/runtime';
import { BROKER_ENTRY, freePort, type ServiceProcess, startService, TempDirs } from '@ioc/testing';
import { type CommandedState, commandedMetrics, executeCommand } from './commands';
import { CredentialsFileError, loadCredentialsFile } from './credentials-file';
import { buildMessage, createModelContext, lampState } from './models';
import { Simulator } from './simulator';

const REPO_ROOT = resolve(__dirname, '..', '..');
const { devices } = loadSeeds();
const ctx = createModelContext({ seed: 1, fleet: devices });
const ofType = (type: Device['type']): Device => devices.find((d) => d.type === type) as Device;
/** A street light whose lamp works tonight (a lamp with a dark fault stays dark whatever it is told). */
const workingLamp = (now: number): Device =>
  devices.find((d) => d.type === 'street-light' && lampState(d, now, ctx).fault === 'none') as Device;

const command = (name: string, params: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: newCommandId(), command: name, params, issuedAt: Date.now(), ...extra });

/** The device's telemetry at `t` as the simulator would publish it with `state`, checked against the contract. */
function telemetry(device: Device, state: CommandedState, t: number): Record<string, unknown> {
  const message = buildMessage(device, t, 0, ctx);
  const metrics = commandedMetrics(device, state, message.body.metrics, t, ctx);
  const checked = parsePayload(device.type, 'telemetry', JSON.stringify({ ts: t, metrics }), { now: t });
  expect(checked).toMatchObject({ ok: true, rejections: [] });
  return metrics;
}

describe('executing commands', () => {
  const now = Date.now();

  it('dims a street light: done, and its telemetry reports the level until resume-schedule', () => {
    const lamp = workingLamp(now);
    const state: CommandedState = {};
    const execution = executeCommand(lamp, state, command('dim', { level: 40 }), now);
    expect(execution.ack).toEqual({ id: expect.any(String), outcome: 'done', ts: now });
    const watts = Number(lamp.attributes?.['lampWatts'] ?? 100);
    expect(telemetry(lamp, state, now + 1000)).toMatchObject({
      on: true,
      illuminanceLevel: 0.4,
      activePower: Math.round(watts * 40) / 100,
    });
    executeCommand(lamp, state, command('switch', { on: false }), now);
    expect(telemetry(lamp, state, now + 2000)).toMatchObject({
      on: false,
      illuminanceLevel: 0,
      activePower: 0,
    });
    // Switched on again: at the last level dimmed to.
    executeCommand(lamp, state, command('switch', { on: true }), now);
    expect(telemetry(lamp, state, now + 3000)).toMatchObject({ on: true, illuminanceLevel: 0.4 });
    executeCommand(lamp, state, command('resume-schedule', {}), now);
    expect(telemetry(lamp, state, now + 4000)).toEqual(buildMessage(lamp, now + 4000, 0, ctx).body.metrics);
  });

  it('ends an override after its duration', () => {
    const lamp = workingLamp(now);
    const state: CommandedState = {};
    executeCommand(lamp, state, command('dim', { level: 10, durationSeconds: 60 }), now);
    expect(telemetry(lamp, state, now + 59_000)).toMatchObject({ illuminanceLevel: 0.1 });
    expect(telemetry(lamp, state, now + 60_000)).toEqual(
      buildMessage(lamp, now + 60_000, 0, ctx).body.metrics,
    );
    expect(state.lamp).toBeUndefined();
  });

  it('rejects an unknown command, bad params and an expired command with the contract detail', () => {
    const lamp = workingLamp(now);
    const state: CommandedState = {};
    expect(executeCommand(lamp, state, command('restart', {}), now).ack).toMatchObject({
      outcome: 'rejected',
      detail: 'a street-light takes no command "restart"; it takes dim, switch, resume-schedule',
    });
    expect(executeCommand(lamp, state, command('dim', { level: 101 }), now).ack).toMatchObject({
      outcome: 'rejected',
      detail: 'params.level must be at most 100 %',
    });
    expect(
      executeCommand(
        lamp,
        state,
        command('dim', { level: 5 }, { issuedAt: now - 2000, expiresAt: now - 1000 }),
        now,
      ).ack,
    ).toMatchObject({ outcome: 'rejected', detail: expect.stringMatching(/^expired at /) });
    expect(state).toEqual({});
    // Unreadable: rejected when the id can be read, unanswerable otherwise.
    const id = newCommandId();
    expect(executeCommand(lamp, state, JSON.stringify({ id, command: 'dim' }), now).ack).toMatchObject({
      id,
      outcome: 'rejected',
    });
    expect(executeCommand(lamp, state, 'not json', now).ack).toBeUndefined();
  });

  it('makes a lighting cabinet follow a commanded schedule and switch', () => {
    const cabinet = ofType('lighting-cabinet');
    const state: CommandedState = {};
    // 12:00 local time (UTC+7) on some day: off by the default schedule, on by this one.
    const noon = Date.UTC(2026, 10, 27, 5, 0, 0);
    const before = telemetry(cabinet, state, noon);
    expect(before['circuitsOn']).toBe(0);
    executeCommand(
      cabinet,
      state,
      command('set-schedule', { schedule: { on: '11:00', off: '13:00' } }),
      noon,
    );
    const during = telemetry(cabinet, state, noon);
    expect(during['circuitsOn']).toBeGreaterThan(0);
    expect(during['cabinetActivePower']).toBeGreaterThan(before['cabinetActivePower'] as number);
    expect(telemetry(cabinet, state, noon + 2 * 3_600_000)['circuitsOn']).toBe(0);
    executeCommand(cabinet, state, command('switch', { on: false }), noon);
    expect(telemetry(cabinet, state, noon)).toMatchObject({ circuitsOn: 0, cabinetActivePower: 0.02 });
  });

  it('reports a traffic signal mode, a camera stream and spaces a station out', () => {
    const signal = ofType('traffic-signal');
    const state: CommandedState = {};
    executeCommand(signal, state, command('set-mode', { mode: 'flashing' }), now);
    executeCommand(signal, state, command('set-plan', { plan: 7 }), now);
    expect(telemetry(signal, state, now)).toMatchObject({ signalMode: 'flashing', phase: 0 });
    expect(state.signalPlan).toBe(7);

    const camera = ofType('camera');
    const cameraState: CommandedState = {};
    executeCommand(camera, cameraState, command('set-stream', { fps: 12 }), now);
    expect(commandedMetrics(camera, cameraState, { online: true, fps: 25, bitrate: 4000 }, now, ctx)).toEqual(
      {
        online: true,
        fps: 12,
        bitrate: 4000,
      },
    );

    const station = ofType('air-quality-station');
    const stationState: CommandedState = {};
    expect(
      executeCommand(station, stationState, command('set-interval', { seconds: 600 }), now).ack?.outcome,
    ).toBe('done');
    expect(stationState.intervalMs).toBe(600_000);
  });
});

describe('credentials file', () => {
  const dirs = new TempDirs('sim-credentials-');
  afterAll(() => dirs.removeAll());
  const lamp = ofType('street-light');
  const camera = ofType('camera');

  it('logs each device in with its id and secret', async () => {
    const file = join(await dirs.make(), 'credentials.json');
    writeFileSync(file, JSON.stringify({ [lamp.id]: 'iocds_lamp', [camera.id]: 'iocds_cam', other: 'x' }), {
      mode: 0o600,
    });
    const loaded = loadCredentialsFile(file, [lamp, camera]);
    expect(loaded.credentials({ clientId: `${lamp.id}-t`, device: lamp })).toEqual({
      username: lamp.id,
      password: 'iocds_lamp',
    });
    expect(loaded.credentials({ clientId: 'sim-1' })).toBeUndefined();
    expect(loaded.readableByOthers).toBe(false);
    chmodSync(file, 0o644);
    expect(loadCredentialsFile(file, [lamp]).readableByOthers).toBe(true);
  });

  it('fails clearly, naming the devices without a secret', async () => {
    const file = join(await dirs.make(), 'credentials.json');
    writeFileSync(file, JSON.stringify({ [lamp.id]: 'iocds_lamp' }));
    const others = devices.filter((d) => d.id !== lamp.id).slice(0, 7);
    expect(() => loadCredentialsFile(file, [lamp, ...others])).toThrow(
      new CredentialsFileError(
        `credentials file ${file} has no secret for ${others
          .slice(0, 5)
          .map((d) => d.id)
          .join(', ')} and 2 more (7 of the 8 simulated devices)`,
      ),
    );
    writeFileSync(file, '{"a":');
    expect(() => loadCredentialsFile(file, [lamp])).toThrow(/is not JSON/);
    writeFileSync(file, JSON.stringify({ [lamp.id]: 42 }));
    expect(() => loadCredentialsFile(file, [lamp])).toThrow(
      `the secret of "${lamp.id}" must be a non-empty string`,
    );
    expect(() => loadCredentialsFile(join(file, 'nope'), [lamp])).toThrow(/cannot read credentials file/);
  });

  it('makes the CLI exit with a usage error naming the device', async () => {
    const file = join(await dirs.make(), 'credentials.json');
    writeFileSync(file, '{}', { mode: 0o600 });
    const child = spawn(
      process.execPath,
      ['-r', './scripts/register.js', 'devices-sim/src/cli.ts', '--devices', '1', '--credentials', file],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`has no secret for [\\w.-]+ \\(1 of the 1 simulated devices\\)`));
  }, 30_000);

  it('with --skip-without-credentials leaves those devices out, says so, and fails only when none is left', async () => {
    const file = join(await dirs.make(), 'credentials.json');
    const run = async (
      secrets: Record<string, string>,
    ): Promise<{ code: number | null; stderr: string; stdout: string }> => {
      writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
      const child = spawn(
        process.execPath,
        [
          '-r',
          './scripts/register.js',
          'devices-sim/src/cli.ts',
          '--broker',
          'mqtt://127.0.0.1:1',
          '--devices',
          '3',
          '--credentials',
          file,
          '--skip-without-credentials',
          '--duration',
          '1',
        ],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.once('exit', done));
      return { code, stderr, stdout };
    };
    const none = await run({});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('has a secret for none of the seeded devices');
    const one = await run({ [lamp.id]: 'iocds_only-this-one' });
    // Past the credentials check: it names what it left out and simulates the one device it has.
    expect(one.stderr).toMatch(/device\(s\) have no secret in .* and are not simulated/);
    expect(one.stdout).toMatch(/devices-sim: 1 devices/);
  }, 60_000);
});

describe('commands through the platform broker', () => {
  jest.setTimeout(60_000);
  const dirs = new TempDirs('sim-commands-');
  const SECRET = 'sim-commands-internal-secret-0123';
  let broker: ServiceProcess;
  let url: string;
  let bus: InternalBusClient;
  let simulator: Simulator;
  const notices: CommandAckNotice[] = [];
  const readings: Reading[] = [];
  const lamp = workingLamp(Date.now());
  const camera = ofType('camera');

  beforeAll(async () => {
    const dataDir = await dirs.make();
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    broker = await startService(
      BROKER_ENTRY,
      {
        IOC_STORAGE: 'embedded',
        IOC_DATA_DIR: dataDir,
        IOC_MQTT_HOST: '127.0.0.1',
        IOC_MQTT_PORT: String(port),
        IOC_INTERNAL_SECRET: SECRET,
        // The simulated device logs in with the secret from its credentials file; this broker
        // is not given the device's credential (that is the registry's), so it checks topics only.
        IOC_MQTT_AUTH: 'off',
      },
      'broker ready',
    );
    bus = InternalBusClient.connect(
      {
        brokerUrl: url,
        clientId: serviceClientId('commands', 'sim-test'),
        secret: SECRET,
        logger: createLogger('test', { level: 'silent' }),
      },
      {
        commandAck: (notice) => notices.push(notice),
        readings: (batch) => readings.push(...batch.readings.filter((r) => r.deviceId === lamp.id)),
      },
    );
    const file = join(dataDir, 'credentials.json');
    writeFileSync(file, JSON.stringify({ [lamp.id]: 'iocds_lamp-secret', [camera.id]: 'iocds_cam-secret' }), {
      mode: 0o600,
    });
    simulator = new Simulator({
      brokerUrl: url,
      devices: [lamp, camera],
      fleet: devices,
      ratePerSecond: 40,
      credentials: loadCredentialsFile(file, [lamp, camera]).credentials,
      clientIdSuffix: '-cmd-test',
    });
    await simulator.start();
    await waitFor(() => bus.connected && readings.length > 0, 'the bus connected and the lamp reporting');
  });
  afterAll(async () => {
    await simulator?.stop();
    await bus?.close();
    await broker?.stop();
    await dirs.removeAll();
  });

  it('dims a simulated street light: it acks done and its next telemetry carries the level', async () => {
    const id = newCommandId();
    await bus.publishCommand(
      { domain: lamp.domain, id: lamp.id, type: lamp.type },
      { id, command: 'dim', params: { level: 40 }, issuedAt: Date.now(), expiresAt: Date.now() + 60_000 },
    );
    await waitFor(() => notices.some((n) => n.commandId === id), 'the ack');
    const ack = notices.find((n) => n.commandId === id) as CommandAckNotice;
    expect(ack).toMatchObject({ deviceId: lamp.id, domain: 'lighting', outcome: 'done' });
    const executedAt = ack.deviceTs as number;
    // Readings built after the command was executed; earlier ones may still be on their way.
    const after = (): Reading[] => readings.filter((r) => r.kind === 'telemetry' && r.ts > executedAt);
    await waitFor(() => after().length >= 2, 'telemetry after the command');
    for (const reading of after()) expect(reading.metrics).toMatchObject({ on: true, illuminanceLevel: 0.4 });
    expect(simulator.stats()).toMatchObject({
      commandsReceived: 1,
      commandsExecuted: 1,
      commandsRejected: 0,
    });
  });

  it('answers rejected to a command a street light does not take', async () => {
    const id = newCommandId();
    // No type given: the bus client cannot refuse it, so the device must.
    await bus.publishCommand(
      { domain: lamp.domain, id: lamp.id },
      { id, command: 'restart', params: {}, issuedAt: Date.now() },
    );
    await waitFor(() => notices.some((n) => n.commandId === id), 'the ack');
    expect(notices.find((n) => n.commandId === id)).toMatchObject({
      outcome: 'rejected',
      detail: 'a street-light takes no command "restart"; it takes dim, switch, resume-schedule',
    });
    expect(simulator.stats().commandsRejected).toBe(1);
  });

  it('answers nothing once crashed, so the platform sees a timeout', async () => {
    await simulator.simulateCrash(lamp.id);
    const id = newCommandId();
    await bus.publishCommand(
      { domain: lamp.domain, id: lamp.id },
      { id, command: 'switch', params: { on: true }, issuedAt: Date.now() },
    );
    // A command to the camera, which is up, after it: once its ack is in, the lamp's would be too.
    const marker = newCommandId();
    await bus.publishCommand(
      { domain: camera.domain, id: camera.id, type: camera.type },
      { id: marker, command: 'restart', params: {}, issuedAt: Date.now() },
    );
    await waitFor(() => notices.some((n) => n.commandId === marker), "the camera's ack");
    expect(notices.some((n) => n.commandId === id)).toBe(false);
    expect(simulator.stats()).toMatchObject({
      commandsReceived: 3,
      commandsExecuted: 2,
      commandsRejected: 1,
    });
  });
});

/** Polls `condition` every 10 ms until it holds; throws naming `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
