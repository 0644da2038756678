import { deviceSchema, RESERVED_DEVICE_IDS } from './seed-schemas';

describe('deviceSchema', () => {
  const device = {
    id: 'sl-x-001',
    type: 'street-light',
    domain: 'lighting',
    name: 'Đèn',
    areaId: 'tay-ninh',
    location: { lat: 11.3, lon: 106.1 },
  };

  it('accepts an ordinary id', () => {
    expect(deviceSchema.safeParse(device).success).toBe(true);
  });

  it.each([...RESERVED_DEVICE_IDS, 'Status', 'EXPORT'])(
    'refuses the REST path word "%s" as a device id',
    (id) => {
      const result = deviceSchema.safeParse({ ...device, id });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(
        /is reserved \(status, export, import are paths of the REST API\)/,
      );
    },
  );
});
