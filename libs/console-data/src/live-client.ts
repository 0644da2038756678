import type { ClientToServerEvents, LiveAck, LiveSubscription, ServerToClientEvents } from '@ioc/contracts';
import { io, type Socket } from 'socket.io-client';

/** The typed `/live` socket: server → client and client → server events from the contracts. */
export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** How to reach `/live`. */
export interface LiveClientOptions {
  /** The API's origin; the page's own by default. */
  url?: string;
  /**
   * An access token or API key for non-browser use; a browser page leaves it out and is
   * authenticated by its `ioc_session` cookie in the handshake.
   */
  token?: string;
}

/**
 * Opens the live socket (socket.io namespace `/live`, websocket transport only). It reconnects on
 * its own; call `subscribeLive` again after each `connect` (rooms are per connection).
 */
export function connectLive(options: LiveClientOptions = {}): LiveSocket {
  const url = `${options.url ?? ''}/live`;
  return io(url, {
    transports: ['websocket'],
    withCredentials: true,
    ...(options.token === undefined ? {} : { auth: { token: options.token } }),
  });
}

/**
 * Sends `subscribe` and resolves with the rooms joined. Errors: rejects with the server's refusal
 * (`out-of-scope`, a malformed filter) as an Error, or after `timeoutMs` (default 10 000 ms)
 * without an answer.
 */
export async function subscribeLive(
  socket: LiveSocket,
  subscription: LiveSubscription,
  timeoutMs = 10_000,
): Promise<string[]> {
  const answer: LiveAck = await socket.timeout(timeoutMs).emitWithAck('subscribe', subscription);
  if (!answer.ok) throw new Error(answer.error);
  return answer.rooms;
}
