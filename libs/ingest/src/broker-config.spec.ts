import { parseEnv } from '@ioc/runtime';
import { DEFAULT_MAX_PACKET_BYTES, brokerEnvSchema } from './broker-config';

describe('broker configuration: IOC_MQTT_MAX_PACKET_BYTES', () => {
  it('defaults to 64 KiB, above the default payload limit', () => {
    const env = parseEnv(brokerEnvSchema, {});
    expect(env.IOC_MQTT_MAX_PACKET_BYTES).toBe(DEFAULT_MAX_PACKET_BYTES);
    expect(DEFAULT_MAX_PACKET_BYTES).toBe(65_536);
    expect(env.IOC_MQTT_MAX_PACKET_BYTES).toBeGreaterThan(env.IOC_MAX_PAYLOAD_BYTES);
  });

  it('takes a value between 1024 and the largest remaining length MQTT can announce', () => {
    expect(
      parseEnv(brokerEnvSchema, { IOC_MQTT_MAX_PACKET_BYTES: '1048576' }).IOC_MQTT_MAX_PACKET_BYTES,
    ).toBe(1_048_576);
    for (const bad of ['1023', '268435456', '64k', '-1', '1.5']) {
      expect(() => parseEnv(brokerEnvSchema, { IOC_MQTT_MAX_PACKET_BYTES: bad })).toThrow(
        new RegExp(`IOC_MQTT_MAX_PACKET_BYTES: .*\\(got "${bad.replace('.', '\\.')}"\\)`),
      );
    }
  });
});
