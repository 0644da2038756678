import { DEVICE_TYPES, domainOf, parseDeviceTopic, parsePayload } from '@ioc/contracts';
import { loadSeeds } from '@ioc/registry';
import { buildFault, FAULT_KINDS } from './faults';
import { vietnamTime } from './local-time';
import { createModelContext } from './models/model-types';

describe('buildFault', () => {
  const fleet = loadSeeds().devices;
  const ctx = createModelContext({ seed: 2, fleet });
  const t = vietnamTime(2026, 3, 10, 8, 0);

  it.each(DEVICE_TYPES)('makes each fault of a %s fail for exactly the announced reason', (type) => {
    const device = fleet.find((d) => d.type === type)!;
    for (const kind of FAULT_KINDS) {
      const fault = buildFault(device, kind, t, 1, ctx);
      const topic = parseDeviceTopic(fault.topic);
      if (!topic.ok) throw new Error(topic.detail);
      if (kind === 'wrong-domain') {
        // The payload is fine; only the registry knows the device belongs elsewhere.
        expect(topic.topic.domain).not.toBe(domainOf(type));
        expect(parsePayload(type, 'telemetry', fault.payload, { now: t }).ok).toBe(true);
        continue;
      }
      expect(topic.topic).toEqual({ domain: device.domain, deviceId: device.id, channel: 'telemetry' });
      const result = parsePayload(type, 'telemetry', fault.payload, { now: t });
      // The first refusal answered: of the whole message, or of the one broken metric in it.
      expect([kind, result.rejections[0]?.reason ?? 'accepted']).toEqual([kind, fault.expectedReason]);
    }
  });
});
