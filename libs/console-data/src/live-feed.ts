import type {
  AlertEvent,
  CommandRecordBody,
  DeviceStatus,
  LiveEndedNotice,
  LiveLeftNotice,
  Reading,
} from '@ioc/contracts';
import { connectLive, subscribeLive, type LiveClientOptions, type LiveSocket } from './live-client';

/**
 * The live feed's connection as the header shows it: `connecting` before the first connection,
 * `connected` once subscribed, `reconnecting` while the socket is down (socket.io retries on its
 * own), `ended` when the server ended the session (the page goes back to login).
 */
export type LiveConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'ended';

/** Wait before asking again after a refused or unanswered `subscribe`, ms. */
export const SUBSCRIBE_RETRY_MS = 3000;

/** Where the live feed sends what arrives, and how it (re)subscribes and fills gaps. */
export interface LiveFeedDeps {
  devices: { applyReading(reading: Reading): unknown; applyStatus(status: DeviceStatus): unknown };
  alerts: { applyEvent(event: AlertEvent): unknown };
  /** Sends `subscribe {scope: true}` on the current connection; rejects when refused or unanswered. */
  subscribe(): Promise<unknown>;
  /** Reloads statuses and open alerts (`GET /devices/status`, `GET /alerts?open=true`) into the stores. */
  reload(): Promise<void>;
  /** The server ended the session (`ended`, or a 401 at the handshake): back to login, reason shown. */
  onEnded(notice: LiveEndedNotice): void;
  /** Retry delay after a failed subscribe (default SUBSCRIBE_RETRY_MS). */
  retryMs?: number;
}

/**
 * The live feed's logic, apart from its transport (the socket binding is `startLiveFeed`): what
 * happens on each connection (subscribe to the whole scope; after a reconnect, reload statuses
 * and open alerts to fill the gap) and where each event goes — `reading` and `deviceStatus` to
 * the device store, `alert` to the alert store, `command` to its listeners (the device panel),
 * `left` to its listeners, `ended` to login.
 */
export class LiveFeed {
  private current: LiveConnectionState = 'connecting';
  /** Connections so far: the first is the first paint's, each later one a reconnect. */
  private connections = 0;
  /** Bumped on every connect/disconnect so a late subscribe answer of an old connection is ignored. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly stateListeners = new Set<(state: LiveConnectionState) => void>();
  private readonly commandListeners = new Set<(command: CommandRecordBody) => void>();
  private readonly leftListeners = new Set<(notice: LiveLeftNotice) => void>();
  private readonly readingListeners = new Set<(reading: Reading) => void>();
  private readonly alertListeners = new Set<(event: AlertEvent) => void>();
  /** Gap-filling reloads done after reconnects. */
  reloads = 0;

  constructor(private readonly deps: LiveFeedDeps) {}

  get state(): LiveConnectionState {
    return this.current;
  }

  /** Calls `listener` on each state change; returns the function that stops it. */
  onState(listener: (state: LiveConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Command records as they change (sent, acknowledged, failed, timed out). */
  onCommand(listener: (command: CommandRecordBody) => void): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
  }

  /**
   * Every live reading after the device store took it (the device panel's chart, the camera
   * tiles' events). Runs per reading (thousands a second): a listener must be cheap.
   */
  onReading(listener: (reading: Reading) => void): () => void {
    this.readingListeners.add(listener);
    return () => this.readingListeners.delete(listener);
  }

  /** Every live alert transition after the alert store took it (the device panel's recent alerts). */
  onAlert(listener: (event: AlertEvent) => void): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  /** The server took the socket out of rooms its scope no longer holds. */
  onLeft(listener: (notice: LiveLeftNotice) => void): () => void {
    this.leftListeners.add(listener);
    return () => this.leftListeners.delete(listener);
  }

  /** The transport connected: subscribe to the scope; after a reconnect, then reload to fill the gap. */
  async connected(): Promise<void> {
    if (this.current === 'ended') return;
    this.connections += 1;
    const reconnect = this.connections > 1;
    const generation = ++this.generation;
    this.clearRetry();
    try {
      await this.deps.subscribe();
    } catch {
      if (generation !== this.generation || this.hasEnded()) return;
      // Refused or unanswered: nothing arrives until it works, so try again while connected.
      this.connections -= 1;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (generation === this.generation) {
          this.generation += 1;
          void this.connected();
        }
      }, this.deps.retryMs ?? SUBSCRIBE_RETRY_MS);
      return;
    }
    if (generation !== this.generation || this.hasEnded()) return;
    this.setState('connected');
    if (reconnect) {
      this.reloads += 1;
      await this.deps.reload().catch(() => undefined);
    }
  }

  /** The transport dropped (socket.io reconnects on its own). */
  disconnected(): void {
    if (this.current === 'ended') return;
    this.generation += 1;
    this.clearRetry();
    this.setState(this.connections > 0 || this.current === 'connected' ? 'reconnecting' : 'connecting');
  }

  reading(reading: Reading): void {
    if (this.current === 'ended') return;
    this.deps.devices.applyReading(reading);
    for (const listener of this.readingListeners) listener(reading);
  }

  deviceStatus(status: DeviceStatus): void {
    if (this.current !== 'ended') this.deps.devices.applyStatus(status);
  }

  alert(event: AlertEvent): void {
    if (this.current === 'ended') return;
    this.deps.alerts.applyEvent(event);
    for (const listener of this.alertListeners) listener(event);
  }

  command(command: CommandRecordBody): void {
    if (this.current === 'ended') return;
    for (const listener of this.commandListeners) listener(command);
  }

  left(notice: LiveLeftNotice): void {
    for (const listener of this.leftListeners) listener(notice);
  }

  /** The session is over: nothing more is routed, login is shown with the reason. Happens once. */
  ended(notice: LiveEndedNotice): void {
    if (this.current === 'ended') return;
    this.generation += 1;
    this.clearRetry();
    this.setState('ended');
    this.deps.onEnded(notice);
  }

  /** Stops timers (the page is leaving the shell). */
  stop(): void {
    this.generation += 1;
    this.clearRetry();
  }

  private hasEnded(): boolean {
    return this.current === 'ended';
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private setState(state: LiveConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

/** Wait before reconnecting by hand after the server's middleware refused a handshake (not a 401), ms. */
export const REFUSED_HANDSHAKE_RETRY_MS = 5000;

/** A running live feed: its logic and the function that closes the socket. */
export interface LiveFeedHandle {
  feed: LiveFeed;
  close(): void;
}

/**
 * Opens `/live` (connectLive) and binds the socket's events to a LiveFeed. A handshake refused
 * with 401 (`err.data.reason`: the session ended while the socket was down) ends the feed like
 * `ended`; another refusal is retried after REFUSED_HANDSHAKE_RETRY_MS (socket.io does not retry a
 * middleware refusal on its own). Tested in the browser e2e tests (the transport).
 */
export function startLiveFeed(
  deps: Omit<LiveFeedDeps, 'subscribe'>,
  options: LiveClientOptions & { socket?: LiveSocket } = {},
): LiveFeedHandle {
  const socket = options.socket ?? connectLive(options);
  const feed = new LiveFeed({ ...deps, subscribe: () => subscribeLive(socket, { scope: true }) });
  let retry: ReturnType<typeof setTimeout> | null = null;
  socket.on('connect', () => void feed.connected());
  socket.on('disconnect', () => feed.disconnected());
  socket.on('connect_error', (error: Error & { data?: { statusCode?: number; reason?: string } }) => {
    if (error.data?.statusCode === 401) {
      feed.ended({ reason: error.data.reason ?? 'session-ended', message: error.message });
      socket.close();
    } else if (!socket.active && retry === null) {
      retry = setTimeout(() => {
        retry = null;
        if (feed.state !== 'ended') socket.connect();
      }, REFUSED_HANDSHAKE_RETRY_MS);
    }
  });
  socket.on('reading', (reading) => feed.reading(reading));
  socket.on('deviceStatus', (status) => feed.deviceStatus(status));
  socket.on('alert', (event) => feed.alert(event));
  socket.on('command', (command) => feed.command(command));
  socket.on('left', (notice) => feed.left(notice));
  socket.on('ended', (notice) => {
    feed.ended(notice);
    socket.close();
  });
  return {
    feed,
    close() {
      feed.stop();
      if (retry !== null) clearTimeout(retry);
      socket.removeAllListeners();
      socket.close();
    },
  };
}
