import type { Aedes, Client, PublishPacket } from 'aedes';
import { aedesInternals } from './aedes-internals';

/** What happened to the first copy of a QoS 2 message: acknowledged (PUBREC) or refused. */
export type FirstCopyOutcome = 'acknowledged' | 'refused';

/**
 * Exactly once downstream for QoS 2 [MQTT-4.3.3-2]: a sender that has had no PUBREC repeats the
 * PUBLISH with DUP=1 and the same packet id, and the receiver must not deliver it onwards again.
 * aedes checks its incoming store for such a copy only after authorizePublish has run, and our
 * authorizePublish is where a reading is spooled, counted and relayed; so the check is made
 * here, before processing:
 *
 * - a copy of a message whose first copy is still being processed (waiting for the spool) waits
 *   for that outcome and is not processed itself;
 * - a DUP=1 copy of a message aedes holds in its incoming store (acknowledged with PUBREC, no
 *   PUBREL yet — also across a reconnect with clean=false) is a duplicate.
 *
 * Anything else is processed: a DUP=0 publish is a new message by definition, and a DUP=1 copy
 * aedes does not hold means the first copy never completed (e.g. lost with a dropped connection).
 * Only messages of a given client id are compared. Memory: one entry per QoS 2 message being
 * processed; entries go once the outcome is known (aedes' store then takes over).
 */
export class Qos2Duplicates {
  private readonly inProgress = new Map<string, Map<number, Promise<FirstCopyOutcome>>>();

  constructor(private readonly broker: () => Aedes | undefined) {}

  /**
   * Called synchronously for every QoS 2 PUBLISH of a non-internal client, before processing.
   * - `{ repeatOf }`: the first copy of this message is still being processed; `repeatOf`
   *   resolves with its outcome. Do not process this copy.
   * - `{ settle, storedBefore }`: process this copy unless `storedBefore` resolves true (a DUP=1
   *   copy of a message aedes already acknowledged; then do not process it), and call `settle`
   *   exactly once with the outcome. Copies arriving meanwhile get `repeatOf`.
   * Never rejects.
   */
  admit(client: Client, packet: PublishPacket): Qos2Admission {
    const id = packet.messageId;
    if (id === undefined) return { settle: () => undefined, storedBefore: undefined };
    const clientId = client.id;
    const pending = this.inProgress.get(clientId)?.get(id);
    if (pending) return { repeatOf: pending };
    let settle!: (outcome: FirstCopyOutcome) => void;
    const promise = new Promise<FirstCopyOutcome>((resolve) => (settle = resolve));
    let perClient = this.inProgress.get(clientId);
    if (!perClient) this.inProgress.set(clientId, (perClient = new Map()));
    perClient.set(id, promise);
    const broker = this.broker();
    const storedBefore =
      packet.dup && broker
        ? aedesInternals(broker)
            .persistence.incomingGetPacket(client, packet)
            .then(
              (stored) => stored !== undefined && stored !== null,
              () => false,
            )
        : undefined;
    return {
      storedBefore,
      settle: (outcome) => {
        settle(outcome);
        // Dropped one macrotask later, once aedes has put an acknowledged packet in its incoming
        // store (memory persistence stores it in the microtasks after the authorizePublish callback).
        setImmediate(() => {
          const current = this.inProgress.get(clientId);
          if (current?.get(id) !== promise) return;
          current.delete(id);
          if (current.size === 0) this.inProgress.delete(clientId);
        });
      },
    };
  }
}

/** See Qos2Duplicates.admit. `storedBefore` is undefined for a DUP=0 copy (new by definition). */
export type Qos2Admission =
  | { repeatOf: Promise<FirstCopyOutcome> }
  | { settle: (outcome: FirstCopyOutcome) => void; storedBefore: Promise<boolean> | undefined };
