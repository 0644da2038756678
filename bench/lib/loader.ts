import { connect, type Socket } from 'node:net';
import type { DeviceTemplate, MessageVariant } from './payloads';
import {
  connectPacket,
  DISCONNECT_PACKET,
  FrameReader,
  PACKET,
  publishSize,
  writePublishQos1,
} from './mqtt-wire';

export interface LoaderOptions {
  host: string;
  port: number;
  /**
   * Several broker nodes, each on its own port: connection i goes to `ports[i % ports.length]`
   * (devices are spread over connections as without it). Default: every connection to `port`.
   */
  ports?: readonly number[];
  /** MQTT connections the devices are spread over (shared-connection mode, as the simulator's). */
  connections: number;
  /** Most QoS 1 publishes a connection may have unacknowledged; the closed-loop bound. */
  window: number;
  /**
   * Offered messages per second in total, paced every `tickMs`; undefined = saturate: every
   * connection keeps `window` publishes in flight and sends the next one as each PUBACK arrives.
   */
  rate?: number;
  tickMs?: number;
  templates: readonly DeviceTemplate[];
  clientIdPrefix: string;
  username?: string;
  password?: string;
  /**
   * Per-device logins: each connection carries one device (give `connections` ≥ templates) and
   * logs in with what this returns for it (username = device id, password = its secret), as a
   * device with its own credentials does. Overrides `username`/`password`.
   */
  login?: (device: DeviceTemplate['device']) => { username?: string; password?: string };
  /** Called for every message as it is handed to the socket (latency probes). */
  onPublish?: (message: PublishedMessage) => void;
  /** Collect publish → PUBACK times (ms) of every message. */
  recordAckLatency?: boolean;
}

export interface PublishedMessage {
  seq: number;
  ts: number;
  /** performance.now() when the packet was written. */
  at: number;
  template: DeviceTemplate;
  variant: MessageVariant;
}

export interface LoaderStats {
  sent: number;
  acked: number;
  /** Metrics (points) carried by the acknowledged messages. */
  ackedMetrics: number;
  /** Paced mode: messages due while the connection's window was full (offered, not sent). */
  skipped: number;
  inFlight: number;
  /** Connections the broker closed while the run was on. */
  closedByBroker: number;
}

interface Connection {
  index: number;
  socket: Socket;
  devices: number[];
  cursor: number;
  nextId: number;
  inFlight: number;
  metricsById: Uint16Array;
  sentAtById: Float64Array;
  open: boolean;
}

/**
 * A lean MQTT 3.1.1 QoS 1 load generator: pre-built payload templates (from the simulator's
 * models), a hand-written PUBLISH encoder and a PUBACK counter, several connections, a bounded
 * in-flight window per connection, and either paced (open-loop up to the window) or saturating
 * (closed-loop) publishing. Every payload carries `ts` = Date.now() at send time (made unique
 * per device) and a globally increasing `seq`.
 */
export class Loader {
  private readonly conns: Connection[] = [];
  private readonly lastTs: number[];
  private readonly variantCursor: number[];
  private seq = 1;
  private running = false;
  private stopping = false;
  private ticker: NodeJS.Timeout | undefined;
  private pacedStart = 0;
  private released = 0;
  private rr = 0;
  readonly stats: LoaderStats = {
    sent: 0,
    acked: 0,
    ackedMetrics: 0,
    skipped: 0,
    inFlight: 0,
    closedByBroker: 0,
  };
  readonly ackLatencies: number[] = [];

  constructor(private readonly options: LoaderOptions) {
    if (options.templates.length === 0) throw new Error('no device templates');
    this.lastTs = options.templates.map(() => 0);
    this.variantCursor = options.templates.map((_, i) => i % 7);
  }

  async connect(): Promise<void> {
    const count = Math.min(this.options.connections, this.options.templates.length);
    await Promise.all(Array.from({ length: count }, (_, i) => this.open(i, count)));
  }

  private open(index: number, count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ports = this.options.ports?.length ? this.options.ports : [this.options.port];
      const port = ports[index % ports.length] ?? this.options.port;
      const socket = connect({ host: this.options.host, port, noDelay: true });
      const devices: number[] = [];
      for (let d = index; d < this.options.templates.length; d += count) devices.push(d);
      const conn: Connection = {
        index,
        socket,
        devices,
        cursor: 0,
        nextId: 1,
        inFlight: 0,
        metricsById: new Uint16Array(65_536),
        sentAtById: new Float64Array(65_536),
        open: false,
      };
      const reader = new FrameReader((type, _flags, buf, start) => {
        if (type === PACKET.PUBACK) this.onAck(conn, buf.readUInt16BE(start));
        else if (type === PACKET.CONNACK) {
          const code = buf[start + 1];
          if (code !== 0) reject(new Error(`CONNACK refused with code ${String(code)}`));
          else {
            conn.open = true;
            resolve();
          }
        }
      });
      socket.on('data', (chunk: Buffer) => {
        reader.push(chunk);
        // Closed loop: refill the window once per chunk of PUBACKs, in one socket write.
        if (this.running && this.options.rate === undefined)
          this.fill(conn, this.options.window - conn.inFlight);
      });
      socket.once('error', (error) => {
        if (!conn.open) reject(error);
      });
      socket.once('close', () => {
        if (conn.open && !this.stopping) this.stats.closedByBroker++;
        conn.open = false;
      });
      const template = this.options.templates[devices[0] as number] as DeviceTemplate;
      const login = this.options.login
        ? this.options.login(template.device)
        : { username: this.options.username, password: this.options.password };
      socket.once('connect', () => {
        socket.write(
          connectPacket({
            clientId: `${this.options.clientIdPrefix}-${index + 1}`,
            ...(login.username === undefined ? {} : { username: login.username }),
            ...(login.password === undefined ? {} : { password: login.password }),
          }),
        );
      });
      this.conns.push(conn);
    });
  }

  start(): void {
    this.running = true;
    if (this.options.rate === undefined) {
      for (const conn of this.conns) this.fill(conn, this.options.window);
      return;
    }
    this.pacedStart = performance.now();
    const tickMs = this.options.tickMs ?? 5;
    this.ticker = setInterval(() => this.tick(), tickMs);
  }

  /** Stops sending and waits (bounded) for the PUBACKs of what is in flight. */
  async stop(drainTimeoutMs = 10_000): Promise<void> {
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    const deadline = Date.now() + drainTimeoutMs;
    while (this.stats.inFlight > 0 && Date.now() < deadline && this.conns.some((c) => c.open)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    await Promise.all(
      this.conns.map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.socket.destroyed) return resolve();
            conn.socket.once('close', () => resolve());
            if (conn.open) conn.socket.end(DISCONNECT_PACKET);
            else conn.socket.destroy();
            setTimeout(() => {
              conn.socket.destroy();
              resolve();
            }, 2000).unref();
          }),
      ),
    );
  }

  private tick(): void {
    if (!this.running) return;
    const rate = this.options.rate as number;
    const due = Math.floor(((performance.now() - this.pacedStart) * rate) / 1000) - this.released;
    if (due <= 0) return;
    this.released += due;
    const n = this.conns.length;
    // Spread the due messages evenly over the connections, starting where the last tick ended.
    const base = Math.floor(due / n);
    let extra = due - base * n;
    for (let k = 0; k < n; k++) {
      const conn = this.conns[(this.rr + k) % n] as Connection;
      let want = base;
      if (extra > 0) {
        want++;
        extra--;
      }
      if (want === 0) continue;
      const room = conn.open ? this.options.window - conn.inFlight : 0;
      const send = Math.min(want, Math.max(0, room));
      this.stats.skipped += want - send;
      if (send > 0) this.fill(conn, send);
    }
    this.rr = (this.rr + (due % n)) % n;
  }

  /** Encodes `count` publishes for the connection's devices (round-robin) and writes them at once. */
  private fill(conn: Connection, count: number): void {
    if (count <= 0 || !conn.open) return;
    const templates = this.options.templates;
    const now = Date.now();
    const payloads: string[] = new Array<string>(count);
    const lengths: number[] = new Array<number>(count);
    const variants: MessageVariant[] = new Array<MessageVariant>(count);
    const deviceIdx: number[] = new Array<number>(count);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const d = conn.devices[conn.cursor] as number;
      conn.cursor = (conn.cursor + 1) % conn.devices.length;
      const template = templates[d] as DeviceTemplate;
      const vc = (this.variantCursor[d] as number) % template.variants.length;
      this.variantCursor[d] = vc + 1;
      const variant = template.variants[vc] as MessageVariant;
      // One point per (device, metric, ts): keep each device's timestamps distinct.
      const last = this.lastTs[d] as number;
      const ts = now > last ? now : last + 1;
      this.lastTs[d] = ts;
      const payload = `{"ts":${ts},"seq":${this.seq++}${variant.rest}`;
      const length = Buffer.byteLength(payload);
      payloads[i] = payload;
      lengths[i] = length;
      variants[i] = variant;
      deviceIdx[i] = d;
      total += publishSize(variant.topic.length, length);
    }
    const buf = Buffer.allocUnsafe(total);
    let offset = 0;
    const at = performance.now();
    const onPublish = this.options.onPublish;
    for (let i = 0; i < count; i++) {
      const id = conn.nextId;
      conn.nextId = id === 65_535 ? 1 : id + 1;
      const variant = variants[i] as MessageVariant;
      conn.metricsById[id] = variant.metricCount;
      conn.sentAtById[id] = at;
      offset = writePublishQos1(buf, offset, variant.topic, id, payloads[i] as string, lengths[i] as number);
      if (onPublish) {
        const payload = payloads[i] as string;
        onPublish({
          seq: this.seq - count + i,
          ts: Number(payload.slice(6, payload.indexOf(',', 6))),
          at,
          template: templates[deviceIdx[i] as number] as DeviceTemplate,
          variant,
        });
      }
    }
    conn.inFlight += count;
    this.stats.inFlight += count;
    this.stats.sent += count;
    conn.socket.write(buf);
  }

  private onAck(conn: Connection, id: number): void {
    conn.inFlight--;
    this.stats.inFlight--;
    this.stats.acked++;
    this.stats.ackedMetrics += conn.metricsById[id] as number;
    if (this.options.recordAckLatency)
      this.ackLatencies.push(performance.now() - (conn.sentAtById[id] as number));
  }
}
