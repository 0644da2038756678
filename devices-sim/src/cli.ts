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
import {
  describeScenarios,
  formatLocal,
  planScenario,
  SCENARIOS,
  ScenarioError,
  type ScenarioPlan,
  ScenarioRunner,
  withoutDevices,
} from './scenarios';
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
  --scenario NAME     run a named scenario (--list-scenarios): only its devices, on a simulated
                      clock, exiting 0 when it ends; with --devices the normal feed runs beside it
                      (its devices excluded) until Ctrl-C or --duration
  --list-scenarios    describe the scenarios and exit
  --area ID           with --scenario: take its devices from this area's subtree (default: the
                      scenario's choice, e.g. the district with the most air-quality stations)
  --time-scale K      with --scenario: simulated seconds per real second (default: the scenario's)
  --exclusive         with --scenario and no --devices: assert that nothing else feeds the scenario's
                      devices (a platform started with IOC_SIM_DEVICES=0, a bare broker). Without it
                      such a run is refused (exit 2): beside npm start's feed of the same devices the
                      scenario's readings, stamped in the past, would be ignored by the alert engine
  --help              show this text`;

const SUMMARY_EVERY_MS = 5000;

function fail(message: string): never {
  process.stderr.write(`devices-sim: ${message}\n`);
  process.exit(2);
}

/**
 * Why a scenario alone is refused unless `--exclusive`, and the ways that work. Its readings are
 * stamped on its simulated clock, hours before real "now"; if another simulator (npm start's) feeds
 * the same devices, the alert engine has already evaluated readings stamped "now" for them and
 * ignores older ones (it never goes back in a device's time; counted as `alertEngine.outOfOrder`),
 * and the hourly VN_AQI of hours already closed is never recomputed. Nothing on MQTT tells a
 * device that, so the CLI cannot detect the other feed: it asks.
 */
function besideAFeed(plan: ScenarioPlan): string {
  const name = plan.scenario.name;
  return (
    `scenario ${name} stamps its readings on a simulated clock (${formatLocal(plan.startMs)} → ` +
    `${formatLocal(plan.endMs)} local), in the past. If another simulator feeds the same devices ` +
    `(npm start's does, unless IOC_SIM_DEVICES=0), the alert engine has newer readings of them and ` +
    `ignores these (counted as alertEngine.outOfOrder in /api/v1/ingest/stats): no alert would fire.\n` +
    `Run it one of these ways:\n` +
    `  IOC_SIM_SCENARIO=${name} npm start  (npm start's simulator runs it beside its feed, the scenario's devices left out of the feed)\n` +
    `  npm run sim -- --scenario ${name} --exclusive  (nothing else feeds these devices: a platform started with IOC_SIM_DEVICES=0, or a bare broker)`
  );
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
        scenario: { type: 'string' },
        'list-scenarios': { type: 'boolean', default: false },
        area: { type: 'string' },
        'time-scale': { type: 'string' },
        exclusive: { type: 'boolean', default: false },
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
  if (values['list-scenarios']) {
    process.stdout.write(`${describeScenarios(Object.values(SCENARIOS))}\n`);
    return;
  }
  if (values.qos !== '0' && values.qos !== '1') fail(`--qos must be 0 or 1, got "${values.qos}"`);
  if (values.mode !== 'per-device' && values.mode !== 'shared') fail(`--mode must be per-device or shared`);
  if (values.scenario === undefined && (values.area !== undefined || values['time-scale'] !== undefined))
    fail('--area and --time-scale need --scenario');

  const seeds = loadSeeds(values['seeds-dir']);
  const seed = positiveNumber('seed', values.seed, 1, true);
  let plan: ScenarioPlan | undefined;
  if (values.scenario !== undefined) {
    if (values.mode !== 'per-device')
      fail('--scenario needs --mode per-device (each device has its own LWT)');
    if (!Object.hasOwn(SCENARIOS, values.scenario))
      fail(
        `unknown scenario "${values.scenario}"; the scenarios are:\n${describeScenarios(Object.values(SCENARIOS))}`,
      );
    try {
      plan = planScenario(values.scenario, seeds, {
        seed,
        ...(values.area === undefined ? {} : { areaId: values.area }),
        ...(values['time-scale'] === undefined
          ? {}
          : { timeScale: positiveNumber('time-scale', values['time-scale'], 1) }),
      });
    } catch (error) {
      if (error instanceof ScenarioError) fail(error.message);
      throw error;
    }
  }
  // With a scenario the normal feed runs only when --devices asks for it, never over its devices
  // (their readings carry the scenario's simulated time; two clocks would interleave).
  const runFeed = plan === undefined || values.devices !== undefined;
  if (values.exclusive === true && (plan === undefined || runFeed))
    fail('--exclusive goes with --scenario and without --devices');
  if (plan && !runFeed && values.exclusive !== true) fail(besideAFeed(plan));
  const affected = new Set(plan?.target.devices.map((device) => device.id) ?? []);
  let fleet = seeds.devices.filter((device) => !affected.has(device.id));
  const wanted = positiveNumber('devices', values.devices, fleet.length, true);
  if (runFeed && wanted > fleet.length) {
    process.stderr.write(`devices-sim: only ${fleet.length} devices in the seeds; simulating all of them\n`);
  }
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
      const feedNeeds = runFeed ? (skip ? fleet : selectDevices(fleet, wanted)) : [];
      const loaded = loadCredentialsFile(
        values.credentials,
        [...feedNeeds, ...(plan?.target.devices ?? [])],
        {
          skipMissing: skip,
        },
      );
      credentials = loaded.credentials;
      if (loaded.missing.length > 0) {
        const missing = new Set(loaded.missing);
        fleet = fleet.filter((device) => !missing.has(device.id));
        if (plan) plan = withoutDevices(plan, missing);
        process.stderr.write(
          `devices-sim: ${loaded.missing.length} device(s) have no secret in ${values.credentials} and are not simulated ` +
            `(e.g. ${loaded.missing.slice(0, 3).join(', ')}): revoked or never issued\n`,
        );
        if (plan && plan.target.devices.length === 0)
          fail(
            `${values.credentials} has a secret for none of the devices of scenario ${plan.scenario.name}`,
          );
        if (!plan && fleet.length === 0)
          fail(`${values.credentials} has a secret for none of the seeded devices`);
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
  const devices = runFeed ? selectDevices(fleet, Math.min(wanted, fleet.length)) : [];
  // A tag per run: the ids of two simulators of the same devices (e.g. `npm start`'s and one run
  // by hand) must differ, or the broker closes one connection each time the other connects.
  const tag = values['client-id-tag'] ?? `s${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,16}$/.test(tag))
    fail(`--client-id-tag must be 1–16 of A-Z a-z 0-9 . _ -, got "${tag}"`);
  const credentialsHook =
    credentials ??
    (username === undefined && password === undefined
      ? undefined
      : () => ({
          ...(username === undefined ? {} : { username }),
          ...(password === undefined ? {} : { password }),
        }));

  const simulator =
    devices.length === 0
      ? undefined
      : new Simulator({
          brokerUrl: values.broker,
          devices,
          fleet: seeds.devices,
          ratePerSecond: positiveNumber('rate', values.rate, 10),
          ...(durationS === undefined ? {} : { durationMs: durationS * 1000 }),
          qos: values.qos === '0' ? 0 : 1,
          clientMode: values.mode as ClientMode,
          sharedConnections: positiveNumber('connections', values.connections, 4, true),
          connectConcurrency: positiveNumber('concurrency', values.concurrency, 20, true),
          seed,
          clientIdSuffix: `-${tag}`,
          clientIdPrefix: `sim-${tag}`,
          ...(credentialsHook ? { credentials: credentialsHook } : {}),
        });
  const runner =
    plan === undefined
      ? undefined
      : new ScenarioRunner({
          plan,
          brokerUrl: values.broker,
          fleet: seeds.devices,
          qos: values.qos === '0' ? 0 : 1,
          clientIdSuffix: `-${tag}`,
          // Beside a feed (or for a given duration) its devices keep reporting after the timeline.
          continueAfterEnd: runFeed || durationS !== undefined,
          ...(credentialsHook ? { credentials: credentialsHook } : {}),
        });
  let lastError = '';
  let started = false;
  simulator?.on('connectionError', ({ clientId, error }) => {
    // While starting, start() itself reports the failure; later, one line per distinct error,
    // not one per reconnect attempt of every device.
    if (started && error.message !== lastError)
      process.stderr.write(`devices-sim: ${clientId}: ${error.message}\n`);
    lastError = error.message;
  });

  if (simulator) {
    const domains = [...new Set(devices.map((device) => device.domain))].join(', ');
    process.stdout.write(
      `devices-sim: ${devices.length} devices (${domains}) → ${values.broker}, ${values.mode}, qos ${values.qos}, ` +
        `${positiveNumber('rate', values.rate, 10)} msg/s${durationS === undefined ? ', Ctrl-C to stop' : ` for ${durationS} s`}, ` +
        `client ids ${values.mode === 'shared' ? `sim-${tag}-{n}` : `{deviceId}-${tag}`}\n`,
    );
  }
  if (runner && plan) {
    const name = plan.scenario.name;
    process.stdout.write(
      `scenario ${name}: ${plan.target.label} → ${values.broker}; simulated ${formatLocal(plan.startMs)} → ` +
        `${formatLocal(plan.endMs)} local at ×${plan.timeScale} (≈ ${Math.round(plan.realDurationMs / 1000)} s), ` +
        `client ids {deviceId}-${tag}\n`,
    );
    const hhmm = (tMs: number): string => formatLocal(tMs).slice(11);
    runner.on('phaseStart', (event) =>
      process.stdout.write(
        `scenario ${name}: phase ${event.phase} (simulated ${hhmm(event.simulatedMs)} local)\n`,
      ),
    );
    runner.on('ended', (event) =>
      process.stdout.write(`scenario ${name}: ended (simulated ${hhmm(event.simulatedMs)} local)\n`),
    );
    runner.on('error', (error) => process.stderr.write(`devices-sim: scenario ${name}: ${error.message}\n`));
  }
  const onSignal = (): void => {
    process.stdout.write('devices-sim: stopping…\n');
    void simulator?.stop();
    void runner?.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await simulator?.start();
    await runner?.start();
  } catch (error) {
    await Promise.allSettled([simulator?.stop(), runner?.stop()]);
    throw new Error(`could not connect: ${(error as Error).message}`);
  }
  started = true;
  // --duration also bounds a scenario (the feed's own durationMs stops the feed).
  const durationTimer =
    durationS === undefined || !runner ? undefined : setTimeout(() => void runner.stop(), durationS * 1000);
  const current = (): SimulatorStats => (simulator ?? (runner as ScenarioRunner)).stats();
  let previous = current();
  const reporter = setInterval(() => {
    const now = current();
    process.stdout.write(`${summary(now, previous)}\n`);
    previous = now;
  }, SUMMARY_EVERY_MS);
  const [final, scenario] = await Promise.all([simulator?.finished, runner?.finished]);
  clearInterval(reporter);
  if (durationTimer) clearTimeout(durationTimer);
  if (final) {
    const averageRate = final.elapsedMs > 0 ? (final.published * 1000) / final.elapsedMs : 0;
    process.stdout.write(`final: ${summary(final)} average=${averageRate.toFixed(1)}/s\n`);
  }
  if (scenario && plan) {
    process.stdout.write(
      `scenario ${plan.scenario.name} final: ${scenario.completed ? 'completed' : 'stopped before its end'}; ${summary(scenario.stats)}\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`devices-sim: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
