import type { Aedes, Client, PublishPacket } from 'aedes';
import { aedesInternals } from './aedes-internals';

/** What happened to the first copy of a QoS 2 message: acknowledged (PUBREC) or refused. */
type FirstCopyOutcome = 'acknowledged' | 'refused';

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
   * Resolves 'duplicate-acknowledged' when `packet` repeats a message already acknowledged (or
   * being acknowledged), 'duplicate-refused' when it repeats one whose first copy was refused
   * (the connection is being closed), 'new' otherwise. Never rejects.
   */
  async classify(
    client: Client,
    packet: PublishPacket,
  ): Promise<'new' | 'duplicate-acknowledged' | 'duplicate-refused'> {
    const id = packet.messageId;
    if (id === undefined) return 'new';
    const pending = this.inProgress.get(client.id)?.get(id);
    if (pending) return (await pending) === 'acknowledged' ? 'duplicate-acknowledged' : 'duplicate-refused';
    if (!packet.dup) return 'new';
    const broker = this.broker();
    if (!broker) return 'new';
    return aedesInternals(broker).persistence.incomingGetPacket(client, packet).then(
      (stored) => (stored ? 'duplicate-acknowledged' : 'new'),
      () => 'new',
    );
  }

  /**
   * Marks the start of processing a new QoS 2 message; call the returned function exactly once
   * with the outcome. The entry is dropped one macrotask later, once aedes has put an
   * acknowledged packet in its incoming store (memory persistence stores it in the microtasks
   * following the authorizePublish callback).
   */
  begin(client: Client, packet: PublishPacket): (outcome: FirstCopyOutcome) => void {
    const id = packet.messageId;
    if (id === undefined) return () => undefined;
    const clientId = client.id;
    let settle!: (outcome: FirstCopyOutcome) => void;
    const promise = new Promise<FirstCopyOutcome>((resolve) => (settle = resolve));
    let perClient = this.inProgress.get(clientId);
    if (!perClient) this.inProgress.set(clientId, (perClient = new Map()));
    perClient.set(id, promise);
    return (outcome) => {
      settle(outcome);
      setImmediate(() => {
        const current = this.inProgress.get(clientId);
        if (current?.get(id) !== promise) return;
        current.delete(id);
        if (current.size === 0) this.inProgress.delete(clientId);
      });
    };
  }
}
