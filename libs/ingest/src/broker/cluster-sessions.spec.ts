import { createLogger } from '@ioc/runtime';
import { type ClusterSessionMessage, ClusterSessions } from './cluster-sessions';

const logger = createLogger('cluster-sessions-spec', { level: 'silent' });

/** Nodes wired to one another as the shared bus does: every message reaches every node. */
function cluster(names: string[], staleAfterMs = 15_000) {
  let now = 1_000_000;
  const observed: Record<string, string[]> = {};
  const nodes: Record<string, ClusterSessions> = {};
  const sent: ClusterSessionMessage[] = [];
  const deliver = (message: ClusterSessionMessage): void => {
    sent.push(message);
    for (const node of Object.values(nodes))
      node.receive(JSON.parse(JSON.stringify(message)) as ClusterSessionMessage);
  };
  /** Starts node `name` on the bus. */
  const join = (name: string): ClusterSessions => {
    observed[name] = [];
    nodes[name] = new ClusterSessions({
      node: name,
      publish: deliver,
      observer: {
        connectedElsewhere: (id) => observed[name]!.push(`elsewhere ${id}`),
        releasedElsewhere: (id) => observed[name]!.push(`released ${id}`),
      },
      staleAfterMs,
      logger,
      now: () => now,
    });
    return nodes[name];
  };
  for (const name of names) join(name);
  return { nodes, observed, sent, join, advance: (ms: number) => (now += ms) };
}

describe('ClusterSessions (device sessions of the other broker nodes)', () => {
  it('counts and binds another node’s live sessions until they close; a stale close changes nothing', () => {
    const { nodes, observed } = cluster(['a', 'b']);
    const a = nodes['a']!;
    const b = nodes['b']!;
    const first = { deviceId: 'd1', clientId: 'c1', at: 10 };
    a.opened(first);
    expect(b.remoteSessionCount('d1')).toBe(1);
    expect(b.remoteSessionCount('d1', 'c1')).toBe(0);
    expect(b.remoteOwnerOf('c1')).toBe('d1');
    expect(b.heldElsewhere('d1')).toBe(true);
    // A node does not count its own sessions as remote.
    expect(a.remoteSessionCount('d1')).toBe(0);
    // Reconnected on a: the close of the older connection, arriving late, keeps the newer one.
    const second = { deviceId: 'd1', clientId: 'c1', at: 20 };
    a.opened(second);
    a.closed(first);
    expect(b.remoteSessionCount('d1')).toBe(1);
    a.closed(second);
    expect(b.remoteSessionCount('d1')).toBe(0);
    expect(b.remoteOwnerOf('c1')).toBeUndefined();
    expect(observed['b']).toEqual(['elsewhere d1', 'elsewhere d1', 'released d1']);
  });

  it('a starting node learns the others’ sessions from its sync; a restarted node’s are forgotten', () => {
    const { nodes, sent, join } = cluster(['a', 'b', 'c']);
    for (let i = 0; i < 1500; i++) nodes['a']!.opened({ deviceId: `d${i}`, clientId: `c${i}`, at: i });
    nodes['b']!.opened({ deviceId: 'x', clientId: 'cx', at: 1 });
    // A new node asks; the others answer with everything they hold (in chunks of 1000).
    const late = join('late');
    sent.length = 0;
    late.requestSync();
    expect(
      sent.filter((m) => m.kind === 'state').map((m) => [m.node, m.kind === 'state' && m.sessions.length]),
    ).toEqual([
      ['a', 1000],
      ['a', 500],
      ['b', 1],
      ['c', 0],
    ]);
    expect(late.remoteSessionCount('d1499')).toBe(1);
    expect(late.heldElsewhere('x')).toBe(true);
    // b restarts: its birth forgets what it held.
    late.born('b');
    expect(late.heldElsewhere('x')).toBe(false);
  });

  it('forgets a node not heard from for staleAfterMs', () => {
    const { nodes, observed, advance } = cluster(['a', 'b'], 15_000);
    nodes['a']!.opened({ deviceId: 'd', clientId: 'c', at: 1 });
    advance(10_000);
    nodes['b']!.sweep();
    expect(nodes['b']!.heldElsewhere('d')).toBe(true);
    nodes['b']!.heardFrom('a');
    advance(14_000);
    nodes['b']!.sweep();
    expect(nodes['b']!.heldElsewhere('d')).toBe(true);
    advance(2_000);
    nodes['b']!.sweep();
    expect(nodes['b']!.heldElsewhere('d')).toBe(false);
    expect(observed['b']).toEqual(['elsewhere d', 'released d']);
  });

  it('asks again for the sessions of a node forgotten for its silence once it is heard again (a Redis outage)', () => {
    const { nodes, sent, advance } = cluster(['a', 'b'], 15_000);
    nodes['a']!.opened({ deviceId: 'd', clientId: 'c', at: 1 });
    // The bus is away for longer than staleAfterMs: b forgets a's session.
    advance(16_000);
    nodes['b']!.sweep();
    expect(nodes['b']!.heldElsewhere('d')).toBe(false);
    // The bus is back: a's heartbeat reaches b, which asks; a answers with the session it still holds.
    sent.length = 0;
    nodes['b']!.heardFrom('a');
    expect(sent.map((m) => `${m.kind} ${m.node}`)).toEqual(['sync b', 'state a']);
    expect(nodes['b']!.heldElsewhere('d')).toBe(true);
    // Heard again later: no new question.
    sent.length = 0;
    nodes['b']!.heardFrom('a');
    expect(sent).toEqual([]);
  });
});
