/**
 * Reconnect storm after a broker restart, with device authentication on: N devices (10,000 by
 * default), each with its own credentials and its own connection, are connected to the platform
 * broker (bench/lib/auth-broker.ts, IOC_MQTT_AUTH=credentials, HMAC-SHA256 secrets); the broker
 * process is stopped and started again on the same port and data directory; every device
 * reconnects with a random back-off, as real devices do. Prints the time until all are back
 * (p50/p99 of each device's reconnect time, total) and the broker's CPU meanwhile. See
 * bench/README.md.
 *
 *   node -r ./scripts/register.js bench/reconnect-storm.ts [--devices 10000] [--jitter-ms 2000]
 *       [--connect-concurrency 500] [--timeout 600] [--quiet-wait 20]
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { freePort } from '@ioc/testing';
import { benchDeviceSecret, syntheticDeviceId } from './lib/bench-credentials';
import { distribution, machineInfo, onInterrupt, round, treeState } from './lib/common';
import { connectPacket, FrameReader, PACKET } from './lib/mqtt-wire';
import { CpuMeter, processCpuSeconds, processRssMiB, waitForQuietMachine } from './lib/proc-cpu';
import { type BenchBroker, startBenchBroker } from './lib/targets';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    'jitter-ms': { type: 'string', default: '2000' },
    'connect-concurrency': { type: 'string', default: '500' },
    timeout: { type: 'string', default: '600' },
    'quiet-wait': { type: 'string', default: '20' },
  },
});
const deviceCount = Number(args.devices);
/** Each device waits a uniformly random 0 … jitter ms before each reconnection attempt. */
const jitterMs = Number(args['jitter-ms']);
const connectConcurrency = Number(args['connect-concurrency']);
const timeoutMs = Number(args.timeout) * 1000;

/** One device: a raw MQTT 3.1.1 connection that logs in with its credentials and reconnects. */
class StormDevice {
  socket: Socket | undefined;
  connected = false;
  /** performance.now() of the last accepted CONNACK. */
  connectedAt = 0;
  attempts = 0;
  refusals = 0;
  /** Set once the initial connections are up: from then on a lost or refused connection is retried. */
  retryArmed = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    private readonly secret: string,
    private readonly port: number,
    private readonly onConnected: (device: StormDevice) => void,
  ) {}

  /** Connects once (resolves on CONNACK 0, rejects otherwise) — the initial, orderly connection. */
  connectOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.open(resolve, reject);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.destroy();
  }

  private scheduleRetry(): void {
    this.connected = false;
    if (this.stopped) return;
    this.retry = setTimeout(
      () =>
        this.open(
          () => undefined,
          () => undefined,
        ),
      Math.random() * jitterMs,
    );
  }

  private open(resolve: () => void, reject: (error: Error) => void): void {
    this.attempts++;
    const socket = connect({ host: '127.0.0.1', port: this.port, noDelay: true });
    this.socket = socket;
    let settled = false;
    const reader = new FrameReader((type, _flags, buf, start) => {
      if (type !== PACKET.CONNACK || settled) return;
      settled = true;
      const code = buf[start + 1];
      if (code === 0) {
        this.connected = true;
        this.connectedAt = performance.now();
        this.onConnected(this);
        resolve();
      } else {
        this.refusals++;
        socket.destroy();
        reject(new Error(`CONNACK ${String(code)} for ${this.id}`));
      }
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    socket.once('connect', () =>
      socket.write(connectPacket({ clientId: this.id, username: this.id, password: this.secret })),
    );
    socket.once('close', () => {
      if (!settled) {
        settled = true;
        reject(new Error(`connection closed before CONNACK for ${this.id}`));
      }
      if (this.socket === socket && this.retryArmed) this.scheduleRetry();
    });
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const tree = treeState();
  console.log(
    `reconnect-storm: ${deviceCount} devices with credentials (one connection each), broker restarted as a process; ` +
      `reconnect back-off uniform 0–${jitterMs} ms per attempt\n` +
      `machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memory}, Node ${machine.node}\n` +
      `code: ${tree.commit}${tree.modified.length ? ` + ${tree.modified.length} uncommitted change(s)` : ' (clean)'}`,
  );
  const port = await freePort();
  let broker: BenchBroker = await startBenchBroker({
    auth: 'credentials',
    port,
    syntheticDevices: deviceCount,
  });
  const dataDir = broker.dataDir;
  const devices: StormDevice[] = [];
  const cleanup = async (): Promise<void> => {
    for (const d of devices) d.stop();
    await broker.stop();
  };
  const unregister = onInterrupt(cleanup);
  try {
    let connectedCount = 0;
    let allBack: () => void = () => undefined;
    const onConnected = (): void => {
      connectedCount++;
      if (connectedCount === deviceCount) allBack();
    };
    for (let i = 0; i < deviceCount; i++) {
      const id = syntheticDeviceId(i);
      devices.push(new StormDevice(id, benchDeviceSecret(id), port, onConnected));
    }
    // Memory per connection: the broker's resident memory with no device, then with every device
    // connected (settled 5 s), divided by the devices. Includes each session's aedes state, socket
    // buffers and the platform's per-session bookkeeping; an RSS difference, so ± a few MiB.
    const firstPid = broker.service.child.pid;
    const rssIdle = firstPid === undefined ? undefined : processRssMiB(firstPid);
    // Initial connections, at most `connectConcurrency` CONNECTs in flight.
    const initialStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(connectConcurrency, deviceCount) }, async () => {
        while (next < devices.length) {
          const device = devices[next++] as StormDevice;
          await device.connectOnce();
        }
      }),
    );
    console.log(
      `${deviceCount} devices connected in ${round((performance.now() - initialStart) / 1000, 2)} s (orderly, ≤ ${connectConcurrency} at a time)`,
    );
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const rssConnected = firstPid === undefined ? undefined : processRssMiB(firstPid);
    const memory =
      rssIdle === undefined || rssConnected === undefined
        ? null
        : {
            rssIdleMiB: round(rssIdle, 1),
            rssConnectedMiB: round(rssConnected, 1),
            kibPerConnection: round(((rssConnected - rssIdle) * 1024) / deviceCount, 1),
          };
    if (memory) {
      console.log(
        `broker resident memory: ${memory.rssIdleMiB} MiB with no device, ${memory.rssConnectedMiB} MiB with ${deviceCount} connected → ${memory.kibPerConnection} KiB per connection`,
      );
    }
    for (const d of devices) d.retryArmed = true;

    const quietWait = Number(args['quiet-wait']);
    if (quietWait > 0) await waitForQuietMachine(quietWait * 1000);

    // Restart: stop the broker process (its clients are closed), start it again on the same port.
    connectedCount = 0;
    const everyoneBack = new Promise<void>((resolve) => (allBack = resolve));
    const stopAt = performance.now();
    await broker.stopProcess();
    const downAt = performance.now();
    broker = await startBenchBroker({
      auth: 'credentials',
      port,
      dataDir,
      syntheticDevices: deviceCount,
    });
    const readyAt = performance.now();
    const brokerPid = broker.service.child.pid;
    const meter = new CpuMeter({ broker: brokerPid, self: process.pid });
    meter.mark();
    const brokerCpu0 = brokerPid === undefined ? undefined : processCpuSeconds(brokerPid);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      everyoneBack.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    const endAt = performance.now();
    const cpu = meter.measure();
    const brokerCpuSeconds =
      brokerPid === undefined || brokerCpu0 === undefined
        ? null
        : round((processCpuSeconds(brokerPid) ?? brokerCpu0) - brokerCpu0, 2);
    // A device may get in between the listener opening and the parent reading "ready": 0 ms.
    const backAt = devices
      .filter((d) => d.connected && d.connectedAt >= downAt)
      .map((d) => Math.max(0, d.connectedAt - readyAt));
    const stats = await fetch(`${broker.httpUrl}/api/v1/ingest/stats`)
      .then((r) => r.json() as Promise<{ broker: Record<string, number> }>)
      .catch(() => undefined);
    const reconnect = distribution(backAt);
    const attempts = devices.reduce((a, d) => a + d.attempts, 0);
    const refusals = devices.reduce((a, d) => a + d.refusals, 0);
    const result = {
      devices: deviceCount,
      back: backAt.length,
      timedOut,
      brokerStopSeconds: round((downAt - stopAt) / 1000, 2),
      brokerStartSeconds: round((readyAt - downAt) / 1000, 2),
      /** From the new broker's "ready" to the last device's CONNACK. */
      allBackSeconds: round((endAt - readyAt) / 1000, 2),
      reconnectMs: { p50: reconnect.p50, p99: reconnect.p99, max: reconnect.max, mean: reconnect.mean },
      brokerCpuPercent: cpu['broker'] ?? null,
      brokerCpuSeconds,
      machineCpuPercent: cpu['machine'] ?? null,
      otherCpuPercent: cpu['other'] ?? null,
      memory,
      connectAttempts: attempts,
      connackRefusals: refusals,
      brokerRefusals: stats
        ? Object.fromEntries(Object.entries(stats.broker).filter(([k, v]) => k.startsWith('auth') && v > 0))
        : null,
    };
    console.log(
      `broker stopped in ${result.brokerStopSeconds} s, started in ${result.brokerStartSeconds} s; ` +
        `${result.back}/${deviceCount} devices back ${timedOut ? `— TIMED OUT after ${args.timeout} s` : `within ${result.allBackSeconds} s of "ready"`}\n` +
        `reconnect time after ready: p50 ${reconnect.p50} ms, p99 ${reconnect.p99} ms, max ${reconnect.max} ms\n` +
        `broker CPU over the storm: ${result.brokerCpuPercent} % of one core (${brokerCpuSeconds} CPU s); machine ${result.machineCpuPercent} % of all cores, other ${result.otherCpuPercent} %\n` +
        `connection attempts ${attempts} (initial ones included), CONNACK refusals ${refusals}; broker auth refusals ${JSON.stringify(result.brokerRefusals)}`,
    );
    console.log(
      JSON.stringify({
        bench: 'reconnect-storm',
        machine,
        tree,
        config: { deviceCount, jitterMs, connectConcurrency },
        result,
      }),
    );
  } finally {
    await cleanup();
    unregister();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
