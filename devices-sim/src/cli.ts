/**
 * Device simulator CLI.
 *   node -r ./scripts/register.js devices-sim/src/cli.ts --broker mqtt://127.0.0.1:1883 --devices 100 --rate 50
 * Run with --help for every option.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadSeeds } from '@ioc/registry';
import { CredentialsFileError, loadCredentialsFile } from './credentials-file';
import { selectDevices } from './device-selection';
import { type ClientMode, Simulator, type SimulatorStats } from './simulator';

const HELP = `Usage: devices-sim [options]
  --broker URL        MQTT broker (default mqtt://127.0.0.1:1883)
  --devices N         simulate N seed devices, taken round-robin across domains and types (default: all)
  --rate R            total messages per second across all devices (default 10)
  --duration S        stop after S seconds (default: run until Ctrl-C)
  --qos 0|1           QoS of telemetry and events (default 1)
  --mode M            per-device (one connection each, with LWT) | shared (few connections, for load)
  --connections N     connections in shared mode (default 4)
  --concurrency N     connections opened at once (default 20)
  --seed N            random seed (positive integer); the same seed replays the same values (default 1)
  --seeds-dir DIR     directory holding areas.json and devices.json (default: the repository's seeds/)
  --username U        MQTT username for every connection
  --password P        MQTT password for every connection
  --credentials FILE  per-device secrets, JSON { "<deviceId>": "<secret>" } (per-device mode): each
                      connection logs in with username = device id, password = its secret; a
                      simulated device without a secret is an error
  --skip-without-credentials
                      with --credentials: simulate only devices the file has a secret for (a
                      device revoked or suspended by an operator is left out, with a warning)
  --client-id-tag T   client ids are {deviceId}-T (per-device) or sim-T-{n} (shared); default: random
                      per run, so two simulators of the same devices never take each other's connections
  --help              show this text`;

const SUMMARY_EVERY_MS = 5000;

function fail(message: string): never {
  process.stderr.write(`devices-sim: ${message}\n`);
  process.exit(2);
}

function positiveNumber(name: string, raw: string | undefined, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    fail(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  }
  return value;
}

function summary(stats: SimulatorStats, previous?: SimulatorStats, intervalMs = SUMMARY_EVERY_MS): string {
  const rate = previous
    ? ` (${(((stats.published - previous.published) * 1000) / intervalMs).toFixed(1)}/s)`
    : '';
  const reasons = Object.entries(stats.rejectionsByReason)
    .map(([reason, count]) => `${reason}=${count}`)
    .join(',');
  return (
    `t=${(stats.elapsedMs / 1000).toFixed(1)}s published=${stats.published}${rate} ` +
    `acked=${stats.acked} failed=${stats.publishFailures} skipped=${stats.skipped} ` +
    `connected=${stats.connected}/${stats.connections} errors=${stats.errorsReceived}${reasons ? ` [${reasons}]` : ''}` +
    (stats.commandsReceived > 0
      ? ` commands=${stats.commandsReceived} (done=${stats.commandsExecuted} rejected=${stats.commandsRejected})`
      : '')
  );
}

function parseOptions() {
  try {
    return parseArgs({
      options: {
        broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
        devices: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        qos: { type: 'string', default: '1' },
        mode: { type: 'string', default: 'per-device' },
        connections: { type: 'string' },
        concurrency: { type: 'string' },
        seed: { type: 'string' },
        'seeds-dir': { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        credentials: { type: 'string' },
        'skip-without-credentials': { type: 'boolean', default: false },
        'client-id-tag': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n${HELP}`);
  }
}

async function main(): Promise<void> {
  const values = parseOptions();
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (values.qos !== '0' && values.qos !== '1') fail(`--qos must be 0 or 1, got "${values.qos}"`);
  if (values.mode !== 'per-device' && values.mode !== 'shared') fail(`--mode must be per-device or shared`);

  const seeds = loadSeeds(values['seeds-dir']);
  const wanted = positiveNumber('devices', values.devices, seeds.devices.length, true);
  if (wanted > seeds.devices.length) {
    process.stderr.write(
      `devices-sim: only ${seeds.devices.length} devices in the seeds; simulating all of them\n`,
    );
  }
  let fleet = seeds.devices;
  const durationS =
    values.duration === undefined ? undefined : positiveNumber('duration', values.duration, 0);
  const { username, password } = values;
  let credentials: ReturnType<typeof loadCredentialsFile>['credentials'] | undefined;
  if (values.credentials !== undefined) {
    if (values.mode !== 'per-device') fail('--credentials needs --mode per-device (one login per device)');
    if (username !== undefined || password !== undefined)
      fail('--credentials and --username/--password exclude each other');
    try {
      const skip = values['skip-without-credentials'] === true;
      const loaded = loadCredentialsFile(values.credentials, skip ? fleet : selectDevices(fleet, wanted), {
        skipMissing: skip,
      });
      credentials = loaded.credentials;
      if (loaded.missing.length > 0) {
        const missing = new Set(loaded.missing);
        fleet = fleet.filter((device) => !missing.has(device.id));
        process.stderr.write(
          `devices-sim: ${loaded.missing.length} device(s) have no secret in ${values.credentials} and are not simulated ` +
            `(e.g. ${loaded.missing.slice(0, 3).join(', ')}): revoked or never issued\n`,
        );
        if (fleet.length === 0) fail(`${values.credentials} has a secret for none of the seeded devices`);
      }
      if (loaded.readableByOthers)
        process.stderr.write(
          `devices-sim: warning: ${values.credentials} is readable by other users; chmod 600 it\n`,
        );
    } catch (error) {
      if (error instanceof CredentialsFileError) fail(error.message);
      throw error;
    }
  } else if (values['skip-without-credentials'] === true) {
    fail('--skip-without-credentials needs --credentials');
  }
  const devices = selectDevices(fleet, Math.min(wanted, fleet.length));
  // A tag per run: the ids of two simulators of the same devices (e.g. `npm start`'s and one run
  // by hand) must differ, or the broker closes one connection each time the other connects.
  const tag = values['client-id-tag'] ?? `s${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,16}$/.test(tag))
    fail(`--client-id-tag must be 1–16 of A-Z a-z 0-9 . _ -, got "${tag}"`);

  const simulator = new Simulator({
    brokerUrl: values.broker,
    devices,
    fleet: seeds.devices,
    ratePerSecond: positiveNumber('rate', values.rate, 10),
    ...(durationS === undefined ? {} : { durationMs: durationS * 1000 }),
    qos: values.qos === '0' ? 0 : 1,
    clientMode: values.mode as ClientMode,
    sharedConnections: positiveNumber('connections', values.connections, 4, true),
    connectConcurrency: positiveNumber('concurrency', values.concurrency, 20, true),
    seed: positiveNumber('seed', values.seed, 1, true),
    clientIdSuffix: `-${tag}`,
    clientIdPrefix: `sim-${tag}`,
    ...(credentials !== undefined ? { credentials } : {}),
    ...(username === undefined && password === undefined
      ? {}
      : {
          credentials: () => ({
            ...(username === undefined ? {} : { username }),
            ...(password === undefined ? {} : { password }),
          }),
        }),
  });
  let lastError = '';
  let started = false;
  simulator.on('connectionError', ({ clientId, error }) => {
    // While starting, start() itself reports the failure; later, one line per distinct error,
    // not one per reconnect attempt of every device.
    if (started && error.message !== lastError)
      process.stderr.write(`devices-sim: ${clientId}: ${error.message}\n`);
    lastError = error.message;
  });

  const domains = [...new Set(devices.map((device) => device.domain))].join(', ');
  process.stdout.write(
    `devices-sim: ${devices.length} devices (${domains}) → ${values.broker}, ${values.mode}, qos ${values.qos}, ` +
      `${positiveNumber('rate', values.rate, 10)} msg/s${durationS === undefined ? ', Ctrl-C to stop' : ` for ${durationS} s`}, ` +
      `client ids ${values.mode === 'shared' ? `sim-${tag}-{n}` : `{deviceId}-${tag}`}\n`,
  );
  const onSignal = (): void => {
    process.stdout.write('devices-sim: stopping…\n');
    void simulator.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await simulator.start();
  } catch (error) {
    throw new Error(`could not connect: ${(error as Error).message}`);
  }
  started = true;
  let previous = simulator.stats();
  const reporter = setInterval(() => {
    const current = simulator.stats();
    process.stdout.write(`${summary(current, previous)}\n`);
    previous = current;
  }, SUMMARY_EVERY_MS);
  const final = await simulator.finished;
  clearInterval(reporter);
  const averageRate = final.elapsedMs > 0 ? (final.published * 1000) / final.elapsedMs : 0;
  process.stdout.write(`final: ${summary(final)} average=${averageRate.toFixed(1)}/s\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`devices-sim: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
