import { DOMAINS, type Domain } from './domains';
import {
  COMMAND_ACK_CHANNEL,
  DEVICE_CHANNELS,
  type DevicePublishChannel,
  INTERNAL_COMMAND_ACKS_TOPIC,
  isReadingChannel,
  DEVICE_ID_PATTERN,
  deviceTopic,
  isReservedClientId,
  INTERNAL_READINGS_TOPIC,
  INTERNAL_REJECTIONS_TOPIC,
  isDeviceId,
  parseDeviceTopic,
  PLATFORM_CHANNELS,
  TOPIC_ROOT,
  type TopicParseResult,
} from './topics';

const MAX_ID = 'a'.repeat(64);
const VALID_IDS = ['a', '7', 'aqs-tn-001', 'CAM_042', 'sl.12.3', 'A-b_C.9', MAX_ID];

function expectRejected(topic: string): string {
  const result = parseDeviceTopic(topic);
  expect(result).toEqual({ ok: false, detail: expect.any(String) });
  return result.ok ? '' : result.detail;
}

describe('parseDeviceTopic', () => {
  describe('accepts every domain × device channel', () => {
    const cases = DOMAINS.flatMap((domain) => DEVICE_CHANNELS.map((channel) => [domain, channel] as const));

    it.each(cases)('%s / %s', (domain, channel) => {
      const topic = `${TOPIC_ROOT}/${domain}/dev-1/${channel}`;
      expect(parseDeviceTopic(topic)).toEqual({ ok: true, topic: { domain, deviceId: 'dev-1', channel } });
    });

    it('covers at least the four domains and three channels the architecture names', () => {
      expect(cases).toHaveLength(DOMAINS.length * DEVICE_CHANNELS.length);
      expect([...DOMAINS].sort()).toEqual(['camera', 'env', 'lighting', 'traffic']);
      expect([...DEVICE_CHANNELS].sort()).toEqual(['event', 'status', 'telemetry']);
    });
  });

  it.each(VALID_IDS)('accepts device id %j', (deviceId) => {
    const result = parseDeviceTopic(`ioc/v1/env/${deviceId}/telemetry`);
    expect(result.ok && result.topic.deviceId).toBe(deviceId);
  });

  describe('the command ack channel', () => {
    it.each(DOMAINS)('is accepted in %s, four levels below the root', (domain) => {
      const topic = deviceTopic(domain, 'dev-1', COMMAND_ACK_CHANNEL);
      expect(topic).toBe(`ioc/v1/${domain}/dev-1/command/ack`);
      const result = parseDeviceTopic(topic);
      expect(result).toEqual({ ok: true, topic: { domain, deviceId: 'dev-1', channel: 'command/ack' } });
      expect(result.ok && isReadingChannel(result.topic.channel)).toBe(false);
    });

    it('still checks the domain and the id of an ack topic', () => {
      expect(expectRejected('ioc/v1/water/dev-1/command/ack')).toBe('unknown domain "water"');
      expect(expectRejected('ioc/v1/env/-x/command/ack')).toBe('malformed device id "-x"');
    });

    it.each(DEVICE_CHANNELS)('leaves %s a reading channel', (channel) => {
      expect(isReadingChannel(channel)).toBe(true);
    });
  });

  describe('deviceTopic round-trips', () => {
    const cases = DOMAINS.flatMap((domain) =>
      DEVICE_CHANNELS.flatMap((channel) => VALID_IDS.map((deviceId) => [domain, deviceId, channel] as const)),
    );

    it.each(cases)('%s / %s / %s', (domain, deviceId, channel) => {
      const topic = deviceTopic(domain, deviceId, channel);
      expect(topic).toBe(`ioc/v1/${domain}/${deviceId}/${channel}`);
      expect(parseDeviceTopic(topic)).toEqual({ ok: true, topic: { domain, deviceId, channel } });
    });

    it.each(PLATFORM_CHANNELS)(
      'builds the platform channel %s, which parseDeviceTopic refuses',
      (channel) => {
        const topic = deviceTopic('lighting', 'sl-1', channel);
        expect(topic).toBe(`ioc/v1/lighting/sl-1/${channel}`);
        expect(expectRejected(topic)).toContain(`"${channel}"`);
      },
    );
  });

  describe('rejects', () => {
    it.each([
      'ioc/v2/env/dev-1/telemetry',
      'IOC/v1/env/dev-1/telemetry',
      'ioc/V1/env/dev-1/telemetry',
      'iot/v1/env/dev-1/telemetry',
      'x/v1/env/dev-1/telemetry',
      'ioc-v1/env/dev-1/telemetry/x',
    ])('a wrong root: %s', (topic) => {
      expect(expectRejected(topic)).toContain(TOPIC_ROOT);
    });

    it.each([
      '',
      'ioc',
      'ioc/v1',
      'ioc/v1/env',
      'ioc/v1/env/dev-1',
      'ioc/v1/env/dev-1/telemetry/extra',
      'ioc/v1/env/dev-1/command/ack/',
      'ioc/v1/env/dev-1/command/acks',
      'ioc/v1/env/dev-1/command/ack/x',
      'ioc/v1/env/dev-1/telemetry/ack',
      'ioc/v1/env/dev-1/telemetry/',
      '/ioc/v1/env/dev-1/telemetry',
      'x/ioc/v1/env/dev-1/telemetry',
      'ioc/v1/env/site/dev-1/telemetry',
    ])('a wrong depth: %j', (topic) => {
      expect(expectRejected(topic)).toContain('{deviceId}');
    });

    it.each(['water', 'ENV', 'Env', 'energy', 'envx', ' env', 'constructor', '__proto__', 'toString'])(
      'an unknown domain %j',
      (domain) => {
        expect(expectRejected(`ioc/v1/${domain}/dev-1/telemetry`)).toBe(`unknown domain "${domain}"`);
      },
    );

    it.each([...PLATFORM_CHANNELS, 'Telemetry', 'telemetry ', 'telemetryx', 'events', 'ack', 'constructor'])(
      'the channel %j',
      (channel) => {
        expect(expectRejected(`ioc/v1/env/dev-1/${channel}`)).toBe(
          `devices may not publish on channel "${channel}"`,
        );
      },
    );

    it.each([
      'ioc/v1/+/dev-1/telemetry',
      'ioc/v1/#/dev-1/telemetry',
      'ioc/v1/env/+/telemetry',
      'ioc/v1/env/#/telemetry',
      'ioc/v1/env/dev-1/+',
      'ioc/v1/env/dev-1/#',
      'ioc/+/env/dev-1/telemetry',
      '+/v1/env/dev-1/telemetry',
      'ioc/v1/env/dev+1/telemetry',
      'ioc/v1/env/dev#1/telemetry',
      'ioc/v1/env/+',
      'ioc/v1/#',
      '#',
    ])('a wildcard: %s', (topic) => {
      expectRejected(topic);
    });

    it.each([
      'ioc/v1//dev-1/telemetry',
      'ioc/v1/env//telemetry',
      'ioc/v1/env/dev-1/',
      'ioc//env/dev-1/telemetry',
      '/v1/env/dev-1/telemetry',
      '////',
    ])('an empty segment: %j', (topic) => {
      expectRejected(topic);
    });

    it.each([
      ['a space', 'dev 1'],
      ['a leading space', ' dev1'],
      ['a trailing newline', 'dev1\n'],
      ['a double quote', 'dev"1'],
      ['a single quote', "dev'1"],
      ['a backslash', 'dev\\1'],
      ['a NUL byte', 'dev\u00001'],
      ['Vietnamese letters', 'trạm-01'],
      ['an emoji', 'cam-📷'],
      ['a full-width digit', 'dev１'],
      ['a leading dot', '.hidden'],
      ['a leading dash', '-dev'],
      ['a leading underscore', '_dev'],
      ['a dollar sign', '$SYS'],
      ['65 characters', 'a'.repeat(65)],
      ['10,000 characters', 'a'.repeat(10_000)],
    ])('a device id with %s', (_label, deviceId) => {
      const detail = expectRejected(`ioc/v1/env/${deviceId}/telemetry`);
      expect(detail).toMatch(/^malformed device id "/);
      // The offending id is echoed, cut short so a hostile topic cannot bloat logs.
      expect(detail.length).toBeLessThanOrEqual('malformed device id ""'.length + 41);
    });

    it('a device id containing a slash (it changes the depth)', () => {
      expectRejected('ioc/v1/env/dev/1/telemetry');
      expectRejected('ioc/v1/env/dev%2F1/telemetry');
    });

    it.each([
      INTERNAL_READINGS_TOPIC,
      INTERNAL_REJECTIONS_TOPIC,
      '$SYS/broker/uptime',
      '$internal/ioc/v1/env/a/b',
    ])('the internal and system topic %s', (topic) => {
      expectRejected(topic);
    });
  });
});

describe('parseDeviceTopic without split', () => {
  /** The parser as it was written first (split on '/'): the reference for the faster one. */
  function parseBySplit(topic: string): TopicParseResult {
    const parts = topic.split('/');
    const isAck = parts.length === 6 && `${parts[4]}/${parts[5]}` === COMMAND_ACK_CHANNEL;
    if ((parts.length !== 5 && !isAck) || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) {
      return {
        ok: false,
        detail: `topic must be ${TOPIC_ROOT}/{domain}/{deviceId}/{telemetry|event|status|command/ack}`,
      };
    }
    const [, , domain, deviceId, channelStart] = parts as [string, string, string, string, string];
    const channel = isAck ? COMMAND_ACK_CHANNEL : channelStart;
    const cut = (value: string) => (value.length > 40 ? `${value.slice(0, 40)}…` : value);
    if (!(DOMAINS as readonly string[]).includes(domain)) {
      return { ok: false, detail: `unknown domain "${cut(domain)}"` };
    }
    if (!isDeviceId(deviceId)) return { ok: false, detail: `malformed device id "${cut(deviceId)}"` };
    if (!isAck && !(DEVICE_CHANNELS as readonly string[]).includes(channel)) {
      return { ok: false, detail: `devices may not publish on channel "${cut(channel)}"` };
    }
    return {
      ok: true,
      topic: { domain: domain as Domain, deviceId, channel: channel as DevicePublishChannel },
    };
  }

  it('gives the same result as splitting on "/" for 20 000 generated topics', () => {
    // Segments near and at the valid ones, 1 to 7 of them, and a few with slashes inside; a
    // seeded xorshift, so a failure reproduces.
    const segments: string[][] = [
      ['ioc', 'ioc', 'ioc', 'IOC', 'ioc/v1', ''],
      ['v1', 'v1', 'v1', 'v2', 'v1/', ''],
      [...DOMAINS, ...DOMAINS, 'water', 'env/', '', '+'],
      ['dev-1', 'aqs-tn-001', 'a'.repeat(64), 'a'.repeat(65), '', '-x', 'é', '#', 'a/b'],
      [...DEVICE_CHANNELS, ...DEVICE_CHANNELS, ...PLATFORM_CHANNELS, '', 'x', 'telemetry/'],
      ['', 'x', 'telemetry', 'ack', 'ack', 'ack/'],
    ];
    let state = 0x2545f491;
    const next = (bound: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % bound;
    };
    const outcomes = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const count = next(3) === 0 ? 1 + next(7) : 5 + next(2);
      const parts = Array.from({ length: count }, (_, k) => {
        const pool = segments[Math.min(k, segments.length - 1)]!;
        return pool[next(pool.length)]!;
      });
      const topic = parts.join('/');
      const result = parseDeviceTopic(topic);
      expect([topic, result]).toEqual([topic, parseBySplit(topic)]);
      outcomes.add(
        result.ok
          ? result.topic.channel === COMMAND_ACK_CHANNEL
            ? 'ack'
            : 'ok'
          : result.detail.split(' ')[0]!,
      );
    }
    // Every outcome occurs: accepted, and each of the four refusals.
    expect([...outcomes].sort()).toEqual(['ack', 'devices', 'malformed', 'ok', 'topic', 'unknown']);
  });
});

describe('device ids', () => {
  it('accepts exactly 1 to 64 characters', () => {
    expect(isDeviceId('')).toBe(false);
    expect(isDeviceId('a')).toBe(true);
    expect(isDeviceId(MAX_ID)).toBe(true);
    expect(isDeviceId(`${MAX_ID}a`)).toBe(false);
  });

  it('has a pattern anchored at both ends', () => {
    expect(DEVICE_ID_PATTERN.source.startsWith('^')).toBe(true);
    expect(DEVICE_ID_PATTERN.source.endsWith('$')).toBe(true);
    expect(DEVICE_ID_PATTERN.flags).not.toContain('m');
  });
});

describe('internal topics', () => {
  it.each([INTERNAL_READINGS_TOPIC, INTERNAL_REJECTIONS_TOPIC, INTERNAL_COMMAND_ACKS_TOPIC])(
    '%s lives under $ so MQTT wildcards never match it and devices cannot publish there',
    (topic) => {
      expect(topic.startsWith('$internal/')).toBe(true);
      expect(topic).not.toMatch(/[+#]/);
    },
  );
});

describe('reserved client ids', () => {
  it.each(['ioc-api-1', 'IOC-api-1', 'Ioc-sim', 'ioc-'])('reserves %s for platform services', (id) => {
    expect(isReservedClientId(id)).toBe(true);
  });
  it.each(['aq-tn-001', 'sim-ab12-1', 'io-c', 'iocapi', ''])('leaves %s to devices', (id) => {
    expect(isReservedClientId(id)).toBe(false);
  });
});
