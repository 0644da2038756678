import { type Device, DOMAINS } from '@ioc/contracts';

/** Takes one item from each list in turn until `limit` items are taken or every list is empty. */
function interleave<T>(lists: readonly (readonly T[])[], limit: number): T[] {
  const result: T[] = [];
  const cursors = lists.map(() => 0);
  while (result.length < limit) {
    let progressed = false;
    lists.forEach((list, index) => {
      const cursor = cursors[index] ?? 0;
      if (result.length < limit && cursor < list.length) {
        result.push(list[cursor] as T);
        cursors[index] = cursor + 1;
        progressed = true;
      }
    });
    if (!progressed) break;
  }
  return result;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k) ?? [];
    group.push(item);
    groups.set(k, group);
  }
  return [...groups.values()];
}

/**
 * The first `count` devices taken round-robin across the four domains, and within each domain
 * across its device types, so even a small sample exercises every part of the platform rather
 * than only the first type in the file.
 */
export function selectDevices(devices: readonly Device[], count: number): Device[] {
  const byDomain = DOMAINS.map((domain) =>
    interleave(
      groupBy(
        devices.filter((device) => device.domain === domain),
        (device) => device.type,
      ),
      Number.POSITIVE_INFINITY,
    ),
  );
  return interleave(byDomain, Math.max(0, Math.floor(count)));
}
