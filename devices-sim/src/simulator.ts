import { EventEmitter } from 'node:events';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { COMMAND_ACK_CHANNEL, type Device, deviceTopic, type MetricValue } from '@ioc/contracts';
import { type CommandedState, type CommandExecution, commandedMetrics, executeCommand } from './commands';
import { buildFault, type FaultKind, type FaultMessage } from './faults';
import { buildMessage, messageFromOutput, modelOutput, type ModelOutput, type SimMessage } from './models';
import { createModelContext, type ModelContext } from './models/model-types';
import { RatePacer } from './rate-pacer';

export type ClientMode = 'per-device' | 'shared';

export interface Credentials {
  username?: string;
  password?: string | Buffer;
}
/** Supplies credentials per connection, e.g. a device's own secret once the broker authenticates. */
export type CredentialsHook = (target: { clientId: string; device?: Device }) => Credentials | undefined;

export interface SimulatorOptions {
  brokerUrl: string;
  /** The devices to simulate; each publishes in turn, round-robin. */
  devices: readonly Device[];
  /** Every device known (e.g. all seeds), so cabinets sum lamps even when those are not simulated. */
  fleet?: readonly Device[];
  /** Total messages per second across all devices (ignored with `manual`). */
  ratePerSecond: number;
  /**
   * No pacer: nothing is published by itself; the caller sends each message with `publishAt`
   * (the scenario runner does, on its simulated clock). Connections, statuses, LWT, commands and
   * error counting work as usual.
   */
  manual?: boolean;
  /**
   * Seconds one report covers (count-like metrics: traffic intensity, rainfall). Default: the
   * round of the schedule, devices ÷ rate; a manual simulator gives its devices' reporting interval.
   */
  periodSeconds?: number;
  /** Stop by itself after this long; runs until `stop()` otherwise. */
  durationMs?: number;
  qos?: 0 | 1;
  /**
   * `per-device`: one connection per device, clientId = device id (+ clientIdSuffix), with a retained LWT on its
   * status topic — what real devices do. `shared`: a few connections publish for every device —
   * for load, where thousands of sockets would measure the OS rather than the platform.
   */
  clientMode?: ClientMode;
  /** Connections in shared mode (default 4). */
  sharedConnections?: number;
  /** Connections opened at once while starting (default 20). */
  connectConcurrency?: number;
  credentials?: CredentialsHook;
  /** Seed for every random draw; the same seed replays the same values. */
  seed?: number;
  /** Pacing timer period (default 20 ms). */
  tickMs?: number;
  /** Publishes in flight (unacknowledged) above which the simulator skips instead of queueing. */
  maxInFlight?: number;
  /** Per-device mode: publish a retained offline status on a graceful stop (default true). */
  announceOffline?: boolean;
  connectTimeoutMs?: number;
  keepaliveSeconds?: number;
  /**
   * Prefix of shared-mode client ids (default `sim-{pid}`). Client ids starting with `ioc-` are
   * reserved for platform services (RESERVED_CLIENT_ID_PREFIX) and refused by the platform's broker.
   */
  clientIdPrefix?: string;
  /**
   * Appended to the device id to make per-device client ids (default none: client id = device
   * id). Two simulators of the same devices need different suffixes, or each connection takes
   * the other's over [MQTT-3.1.4-2] and both keep reconnecting.
   */
  clientIdSuffix?: string;
  clock?: () => number;
}

export interface SimulatorStats {
  /** Telemetry/event messages handed to the MQTT client by the pacer. */
  published: number;
  /** Of those, acknowledged: PUBACK for QoS 1, written to the socket for QoS 0. */
  acked: number;
  publishFailures: number;
  /**
   * Scheduled messages not sent: connection down, crashed device, back-pressure or lag, or a
   * device whose commanded reporting interval (`set-interval`) has not elapsed.
   */
  skipped: number;
  /** Messages received on the devices' `.../error` topics. */
  errorsReceived: number;
  rejectionsByReason: Record<string, number>;
  /** Connections currently up. */
  connected: number;
  connections: number;
  devices: number;
  /** Messages sent through `publishRaw`/`injectFault`. */
  rawPublished: number;
  /** Messages received on the devices' `.../command` topics (per-device mode). */
  commandsReceived: number;
  /** Commands executed and acknowledged `done`. */
  commandsExecuted: number;
  /** Commands refused: acknowledged `rejected` (unknown command, bad params, expired), or unreadable. */
  commandsRejected: number;
  /** Since publishing started. */
  elapsedMs: number;
}

export interface DeviceErrorEvent {
  deviceId: string;
  topic: string;
  reason: string;
  detail?: string;
  body: unknown;
}

export interface SimulatorEvents {
  publish: SimMessage;
  /** A message on a device's command topic, as executed (or refused) and acknowledged. */
  command: CommandExecution;
  deviceError: DeviceErrorEvent;
  connectionError: { clientId: string; error: Error };
  stopped: SimulatorStats;
}

export const OFFLINE_STATUS = JSON.stringify({ metrics: { online: false } });

interface Connection {
  clientId: string;
  client?: MqttClient;
  devices: Device[];
  device?: Device;
  crashed: boolean;
}

interface DeviceState {
  device: Device;
  connection: Connection;
  seq: number;
  overrides?: { metrics: Record<string, MetricValue>; untilMs: number };
  /** What commands changed on this device. */
  commanded: CommandedState;
  /** When its last paced message was published (epoch ms; 0 before the first). */
  lastPublishedAt: number;
}

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

const SUBSCRIBE_CHUNK = 200;
const DRAIN_TIMEOUT_MS = 3000;
const END_TIMEOUT_MS = 2000;

/**
 * Emulates a fleet of field devices against any MQTT broker: paced publishing of modelled
 * telemetry and camera events, per-device sessions with retained LWT, rejection counting from
 * the platform's `.../error` answers, and scenario hooks (raw publishes, faults, crashes).
 */
export class Simulator {
  private readonly emitter = new EventEmitter();
  private readonly options: Required<
    Omit<
      SimulatorOptions,
      | 'durationMs'
      | 'credentials'
      | 'fleet'
      | 'clientIdPrefix'
      | 'clientIdSuffix'
      | 'devices'
      | 'manual'
      | 'periodSeconds'
    >
  > &
    Pick<SimulatorOptions, 'durationMs' | 'credentials'>;
  private readonly devices: readonly Device[];
  private readonly connections: Connection[] = [];
  private readonly states = new Map<string, DeviceState>();
  private readonly ctx: ModelContext;
  private readonly clientIdPrefix: string;
  private readonly clientIdSuffix: string;
  private readonly manual: boolean;
  private state: State = 'idle';
  private pacer?: RatePacer;
  private startedAt = 0;
  private cursor = 0;
  private ticker?: NodeJS.Timeout;
  private durationTimer?: NodeJS.Timeout;
  private stopping?: Promise<SimulatorStats>;
  private resolveFinished: (stats: SimulatorStats) => void = () => undefined;
  private readonly counters = {
    published: 0,
    acked: 0,
    publishFailures: 0,
    skipped: 0,
    errorsReceived: 0,
    rawPublished: 0,
    commandsReceived: 0,
    commandsExecuted: 0,
    commandsRejected: 0,
  };
  private readonly rejections: Record<string, number> = {};

  /** Resolves with the final stats once the simulator has stopped (duration elapsed or `stop()`). */
  readonly finished: Promise<SimulatorStats>;

  constructor(options: SimulatorOptions) {
    if (options.devices.length === 0) throw new Error('the simulator needs at least one device');
    if (options.manual !== true && !(options.ratePerSecond > 0))
      throw new Error(`ratePerSecond must be positive, got ${options.ratePerSecond}`);
    const ids = new Set<string>();
    for (const device of options.devices) {
      if (ids.has(device.id)) throw new Error(`device "${device.id}" is listed twice`);
      ids.add(device.id);
    }
    this.devices = options.devices;
    this.options = {
      brokerUrl: options.brokerUrl,
      ratePerSecond: options.ratePerSecond,
      durationMs: options.durationMs,
      qos: options.qos ?? 1,
      clientMode: options.clientMode ?? 'per-device',
      sharedConnections: Math.max(1, options.sharedConnections ?? 4),
      connectConcurrency: Math.max(1, options.connectConcurrency ?? 20),
      credentials: options.credentials,
      seed: options.seed ?? 1,
      tickMs: Math.min(50, Math.max(10, options.tickMs ?? 20)),
      maxInFlight: options.maxInFlight ?? 10_000,
      announceOffline: options.announceOffline ?? true,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      keepaliveSeconds: options.keepaliveSeconds ?? 30,
      clock: options.clock ?? Date.now,
    };
    this.manual = options.manual === true;
    this.clientIdPrefix = options.clientIdPrefix ?? `sim-${process.pid}`;
    this.clientIdSuffix = options.clientIdSuffix ?? '';
    this.ctx = createModelContext({
      seed: this.options.seed,
      // Each device reports once per round of the schedule, so that is the period its counts cover.
      periodSeconds: options.periodSeconds ?? this.devices.length / this.options.ratePerSecond,
      fleet: options.fleet ?? options.devices,
    });
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  on<E extends keyof SimulatorEvents>(event: E, listener: (payload: SimulatorEvents[E]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends keyof SimulatorEvents>(event: E, listener: (payload: SimulatorEvents[E]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  private emit<E extends keyof SimulatorEvents>(event: E, payload: SimulatorEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  /** Opens every connection (subscriptions and online status included), then starts publishing. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`cannot start a simulator that is ${this.state}`);
    this.state = 'starting';
    this.planConnections();
    try {
      await this.openAll();
    } catch (error) {
      await Promise.allSettled(this.connections.map((connection) => this.endClient(connection)));
      this.state = 'stopped';
      this.resolveFinished(this.stats());
      throw error;
    }
    if (this.state !== 'starting') {
      // stop() ran while connecting: close whatever opened after it looked.
      await Promise.allSettled(this.connections.map((connection) => this.endClient(connection)));
      return;
    }
    this.state = 'running';
    this.startedAt = this.options.clock();
    if (!this.manual) {
      this.pacer = new RatePacer(this.options.ratePerSecond, this.startedAt);
      this.ticker = setInterval(() => this.tick(), this.options.tickMs);
    }
    if (this.options.durationMs !== undefined) {
      this.durationTimer = setTimeout(() => void this.stop(), this.options.durationMs);
    }
  }

  /** Stops publishing, waits for outstanding acknowledgements, says goodbye, and disconnects. */
  stop(): Promise<SimulatorStats> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  stats(): SimulatorStats {
    return {
      ...this.counters,
      skipped: this.counters.skipped + (this.pacer?.droppedCount ?? 0),
      rejectionsByReason: { ...this.rejections },
      connected: this.connections.filter((connection) => connection.client?.connected === true).length,
      connections: this.connections.length,
      devices: this.devices.length,
      elapsedMs: this.startedAt === 0 ? 0 : this.options.clock() - this.startedAt,
    };
  }

  /** Publishes any payload on any topic, through the device's own connection when the topic names one. */
  async publishRaw(
    topic: string,
    payload: string | Buffer,
    options: { qos?: 0 | 1; retain?: boolean; deviceId?: string } = {},
  ): Promise<void> {
    const deviceId = options.deviceId ?? topic.split('/')[3];
    const own = deviceId === undefined ? undefined : this.states.get(deviceId)?.connection;
    const connection =
      own?.client?.connected === true && !own.crashed
        ? own
        : this.connections.find((candidate) => candidate.client?.connected === true && !candidate.crashed);
    if (!connection?.client) throw new Error('no connected client to publish through');
    await connection.client.publishAsync(topic, payload, {
      qos: options.qos ?? this.options.qos,
      retain: options.retain ?? false,
    });
    this.counters.rawPublished += 1;
  }

  /** Publishes one deliberately broken message from a device (see FAULT_KINDS) and returns it. */
  async injectFault(deviceId: string, kind: FaultKind): Promise<FaultMessage> {
    const state = this.requireDevice(deviceId);
    const fault = buildFault(state.device, kind, this.options.clock(), state.seq++, this.ctx);
    await this.publishRaw(fault.topic, fault.payload, { deviceId });
    return fault;
  }

  /**
   * Overrides telemetry metrics of one device for a while (e.g. `{ pm25: 180 }` to trigger an air
   * quality alert in a demo). Values are sent as given, valid or not.
   */
  overrideMetrics(
    deviceId: string,
    metrics: Record<string, MetricValue>,
    durationMs = Number.POSITIVE_INFINITY,
  ): void {
    const state = this.requireDevice(deviceId);
    state.overrides = { metrics: { ...metrics }, untilMs: this.options.clock() + durationMs };
  }

  clearOverrides(deviceId?: string): void {
    if (deviceId === undefined) for (const state of this.states.values()) delete state.overrides;
    else delete this.requireDevice(deviceId).overrides;
  }

  /**
   * Per-device mode: drops the device's connection without an MQTT DISCONNECT, as a power cut
   * would, so the broker publishes its LWT. The device stays silent for the rest of the run.
   */
  async simulateCrash(deviceId: string): Promise<void> {
    const { connection } = this.requireDevice(deviceId);
    if (this.options.clientMode !== 'per-device') throw new Error('crashes need per-device connections');
    connection.crashed = true;
    await connection.client?.endAsync(true);
  }

  /**
   * Reconnects a device after `simulateCrash` (a new MQTT session with its LWT; it announces
   * itself online, retained, as on every connect) and lets it publish again.
   * @throws Error for a device not simulated here, or when the connection fails
   */
  async reconnect(deviceId: string): Promise<void> {
    const { connection } = this.requireDevice(deviceId);
    if (this.state !== 'running')
      throw new Error(`cannot reconnect a device of a simulator that is ${this.state}`);
    if (!connection.crashed && connection.client?.connected === true) return;
    connection.crashed = false;
    await this.open(connection);
  }

  /**
   * Publishes one message of a device stamped `tMs` (epoch ms) with its next `seq`: `output`
   * when given (a scenario's shaped values), else the model's at `tMs`; commands the device has
   * executed apply on top, as for paced messages. Counted like paced messages.
   * @returns false when skipped (not running, connection down, crashed, or back-pressure)
   * @throws Error for a device not simulated here
   */
  publishAt(deviceId: string, tMs: number, output?: ModelOutput): boolean {
    const state = this.requireDevice(deviceId);
    const client = state.connection.client;
    const inFlight = this.counters.published - this.counters.acked - this.counters.publishFailures;
    if (
      this.state !== 'running' ||
      !client?.connected ||
      state.connection.crashed ||
      inFlight >= this.options.maxInFlight
    ) {
      this.counters.skipped += 1;
      return false;
    }
    if (state.overrides && state.overrides.untilMs <= this.options.clock()) delete state.overrides;
    const message = this.commanded(
      state,
      messageFromOutput(
        state.device,
        output ?? modelOutput(state.device, tMs, this.ctx),
        tMs,
        state.seq++,
        state.overrides?.metrics,
      ),
      tMs,
    );
    this.send(state, message, client, tMs);
    return true;
  }

  private send(state: DeviceState, message: SimMessage, client: MqttClient, now: number): void {
    state.lastPublishedAt = now;
    this.counters.published += 1;
    client.publish(message.topic, message.payload, { qos: this.options.qos }, (error) => {
      if (error) this.counters.publishFailures += 1;
      else this.counters.acked += 1;
    });
    this.emit('publish', message);
  }

  private requireDevice(deviceId: string): DeviceState {
    const state = this.states.get(deviceId);
    if (!state) throw new Error(`device "${deviceId}" is not simulated here`);
    return state;
  }

  private planConnections(): void {
    if (this.options.clientMode === 'per-device') {
      for (const device of this.devices) {
        this.connections.push({
          clientId: `${device.id}${this.clientIdSuffix}`,
          devices: [device],
          device,
          crashed: false,
        });
      }
    } else {
      const count = Math.min(this.options.sharedConnections, this.devices.length);
      for (let i = 0; i < count; i += 1) {
        this.connections.push({ clientId: `${this.clientIdPrefix}-${i + 1}`, devices: [], crashed: false });
      }
      this.devices.forEach((device, index) => this.connections[index % count]?.devices.push(device));
    }
    for (const connection of this.connections) {
      for (const device of connection.devices) {
        this.states.set(device.id, { device, connection, seq: 0, commanded: {}, lastPublishedAt: 0 });
      }
    }
  }

  /** Opens connections a few at a time; the first failure stops further attempts and fails start(). */
  private async openAll(): Promise<void> {
    let next = 0;
    let failure: Error | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && this.state === 'starting' && next < this.connections.length) {
        const connection = this.connections[next++] as Connection;
        try {
          await this.open(connection);
        } catch (error) {
          failure ??= error as Error;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.options.connectConcurrency, this.connections.length) }, worker),
    );
    if (failure) throw failure;
  }

  private clientOptions(connection: Connection): IClientOptions {
    const credentials = this.options.credentials?.({
      clientId: connection.clientId,
      ...(connection.device ? { device: connection.device } : {}),
    });
    return {
      clientId: connection.clientId,
      protocolVersion: 4, // aedes 1.x speaks MQTT 3.1.1
      clean: true,
      resubscribe: false, // setUpSession subscribes on every (re)connect
      reconnectPeriod: 1000,
      connectTimeout: this.options.connectTimeoutMs,
      keepalive: this.options.keepaliveSeconds,
      queueQoSZero: false, // stale telemetry is worthless; the pacer counts it as skipped instead
      ...(credentials?.username === undefined ? {} : { username: credentials.username }),
      ...(credentials?.password === undefined ? {} : { password: credentials.password }),
      ...(connection.device
        ? {
            will: {
              topic: deviceTopic(connection.device.domain, connection.device.id, 'status'),
              payload: Buffer.from(OFFLINE_STATUS),
              qos: 1 as const,
              retain: true,
            },
          }
        : {}),
    };
  }

  private open(connection: Connection): Promise<void> {
    const client = connect(this.options.brokerUrl, this.clientOptions(connection));
    connection.client = client;
    client.on('error', (error) => this.emit('connectionError', { clientId: connection.clientId, error }));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`timed out connecting to ${this.options.brokerUrl}`)),
        this.options.connectTimeoutMs,
      );
      const fail = (error: Error): void => {
        clearTimeout(timer);
        client.off('connect', onFirstConnect);
        client.end(true);
        reject(new Error(`${connection.clientId}: ${error.message}`));
      };
      const onError = (error: Error): void => fail(error);
      const onFirstConnect = (): void => {
        clearTimeout(timer);
        client.off('error', onError);
        this.setUpSession(connection).then(() => {
          // Later reconnects (the broker restarted, a network blip) redo the session set-up.
          client.on('connect', () => {
            this.setUpSession(connection).catch((error: unknown) =>
              this.emit('connectionError', { clientId: connection.clientId, error: error as Error }),
            );
          });
          resolve();
        }, fail);
      };
      client.once('connect', onFirstConnect);
      client.once('error', onError);
    });
  }

  /**
   * Subscribes to each device's error topic and, per device, to its command topic, and announces
   * it online (retained).
   */
  private async setUpSession(connection: Connection): Promise<void> {
    const client = connection.client;
    if (!client) return;
    const topics = connection.devices.map((device) => deviceTopic(device.domain, device.id, 'error'));
    if (connection.device)
      topics.push(deviceTopic(connection.device.domain, connection.device.id, 'command'));
    for (let i = 0; i < topics.length; i += SUBSCRIBE_CHUNK) {
      await client.subscribeAsync(topics.slice(i, i + SUBSCRIBE_CHUNK), { qos: 1 });
    }
    if (connection.device) {
      const online = JSON.stringify({ ts: this.options.clock(), metrics: { online: true } });
      await client.publishAsync(
        deviceTopic(connection.device.domain, connection.device.id, 'status'),
        online,
        {
          qos: 1,
          retain: true,
        },
      );
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    if (parts.length === 5 && parts[4] === 'command') return this.onCommand(parts[3] ?? '', payload);
    if (parts[parts.length - 1] !== 'error') return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      body = payload.toString('utf8');
    }
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const reason = typeof fields['reason'] === 'string' ? fields['reason'] : 'unknown';
    this.counters.errorsReceived += 1;
    this.rejections[reason] = (this.rejections[reason] ?? 0) + 1;
    this.emit('deviceError', {
      deviceId: parts[3] ?? '',
      topic,
      reason,
      ...(typeof fields['detail'] === 'string' ? { detail: fields['detail'] } : {}),
      body,
    });
  }

  /**
   * A message on a device's command topic: executed as the device would (executeCommand) and
   * acknowledged on its `…/command/ack` topic with QoS 1. A crashed device answers nothing.
   */
  private onCommand(deviceId: string, payload: Buffer): void {
    const state = this.states.get(deviceId);
    const client = state?.connection.client;
    if (!state || !client || state.connection.crashed) return;
    this.counters.commandsReceived += 1;
    const execution = executeCommand(state.device, state.commanded, payload, this.options.clock());
    if (execution.ack?.outcome === 'done') this.counters.commandsExecuted += 1;
    else this.counters.commandsRejected += 1;
    this.emit('command', execution);
    if (!execution.ack) return;
    client.publish(
      deviceTopic(state.device.domain, state.device.id, COMMAND_ACK_CHANNEL),
      JSON.stringify(execution.ack),
      { qos: 1 },
      (error) => {
        if (error) this.emit('connectionError', { clientId: state.connection.clientId, error });
      },
    );
  }

  private tick(): void {
    if (this.state !== 'running' || !this.pacer) return;
    const now = this.options.clock();
    const due = this.pacer.take(now);
    for (let i = 0; i < due; i += 1) {
      const device = this.devices[this.cursor] as Device;
      this.cursor = (this.cursor + 1) % this.devices.length;
      const state = this.states.get(device.id) as DeviceState;
      const client = state.connection.client;
      const inFlight = this.counters.published - this.counters.acked - this.counters.publishFailures;
      if (!client?.connected || state.connection.crashed || inFlight >= this.options.maxInFlight) {
        this.counters.skipped += 1;
        continue;
      }
      if (
        state.commanded.intervalMs !== undefined &&
        now - state.lastPublishedAt < state.commanded.intervalMs
      ) {
        this.counters.skipped += 1;
        continue;
      }
      if (state.overrides && state.overrides.untilMs <= now) delete state.overrides;
      const message = this.commanded(
        state,
        buildMessage(device, now, state.seq++, this.ctx, state.overrides?.metrics),
        now,
      );
      this.send(state, message, client, now);
    }
  }

  /** The message with what commands changed applied to its telemetry (overrideMetrics still win). */
  private commanded(state: DeviceState, message: SimMessage, now: number): SimMessage {
    if (message.channel !== 'telemetry') return message;
    const metrics = commandedMetrics(state.device, state.commanded, message.body.metrics, now, this.ctx);
    if (metrics === message.body.metrics) return message;
    const body = { ...message.body, metrics: { ...metrics, ...state.overrides?.metrics } };
    return { ...message, body, payload: JSON.stringify(body) };
  }

  /** What commands have changed on a simulated device so far (a copy). */
  commandedState(deviceId: string): CommandedState {
    return structuredClone(this.requireDevice(deviceId).commanded);
  }

  private async shutdown(): Promise<SimulatorStats> {
    const wasStarting = this.state === 'starting';
    this.state = 'stopping';
    if (this.ticker) clearInterval(this.ticker);
    if (this.durationTimer) clearTimeout(this.durationTimer);
    if (!wasStarting) await this.drain();
    if (this.options.clientMode === 'per-device' && this.options.announceOffline) {
      const offline = await Promise.allSettled(
        this.connections
          .filter(
            (connection) => connection.client?.connected === true && !connection.crashed && connection.device,
          )
          .map((connection) => {
            const device = connection.device as Device;
            const body = JSON.stringify({ ts: this.options.clock(), metrics: { online: false } });
            return withTimeout(
              (connection.client as MqttClient).publishAsync(
                deviceTopic(device.domain, device.id, 'status'),
                body,
                {
                  qos: 1,
                  retain: true,
                },
              ),
              END_TIMEOUT_MS,
            );
          }),
      );
      this.counters.publishFailures += offline.filter((result) => result.status === 'rejected').length;
    }
    await Promise.allSettled(this.connections.map((connection) => this.endClient(connection)));
    const final = this.stats();
    this.state = 'stopped';
    this.emit('stopped', final);
    this.resolveFinished(final);
    return final;
  }

  /** Waits (bounded) until every paced publish has been acknowledged or has failed. */
  private async drain(): Promise<void> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (
      this.counters.published > this.counters.acked + this.counters.publishFailures &&
      Date.now() < deadline &&
      this.connections.some((connection) => connection.client?.connected === true)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async endClient(connection: Connection): Promise<void> {
    const client = connection.client;
    if (!client) return;
    try {
      await withTimeout(client.endAsync(), END_TIMEOUT_MS);
    } catch {
      await client.endAsync(true).catch(() => undefined);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
