import {
  areaSchema,
  deviceSchema,
  MAX_AREA_ID_LENGTH,
  MAX_AREA_LEVEL_LENGTH,
  MAX_AREA_NOTE_LENGTH,
  MAX_ATTRIBUTE_NAME_LENGTH,
  MAX_ATTRIBUTE_VALUE_LENGTH,
  MAX_DEVICE_ATTRIBUTES,
  MAX_NAME_LENGTH,
  RESERVED_DEVICE_IDS,
} from './seed-schemas';

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

describe('registry text fields', () => {
  const device = {
    id: 'sl-x-001',
    type: 'street-light',
    domain: 'lighting',
    name: 'Đèn',
    areaId: 'tay-ninh',
    location: { lat: 11.3, lon: 106.1 },
  };
  const area = { id: 'phuong-1', name: 'Phường 1', level: 'ward', parentId: 'tay-ninh' };

  /** The first issue of a refused parse, as `path: message`. */
  function refusal(schema: typeof deviceSchema | typeof areaSchema, value: unknown): string {
    const result = schema.safeParse(value);
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    return `${issue.path.join('.')}: ${issue.message}`;
  }

  it.each([
    [
      'a name',
      { name: 'Đ'.repeat(MAX_NAME_LENGTH + 1) },
      `name: must be at most ${MAX_NAME_LENGTH} characters`,
    ],
    [
      'an area id',
      { areaId: 'a'.repeat(MAX_AREA_ID_LENGTH + 1) },
      `areaId: must be at most ${MAX_AREA_ID_LENGTH}`,
    ],
    [
      'an attribute value',
      { attributes: { road: 'x'.repeat(MAX_ATTRIBUTE_VALUE_LENGTH + 1) } },
      `attributes.road: must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`,
    ],
    [
      'an attribute name',
      { attributes: { ['k'.repeat(MAX_ATTRIBUTE_NAME_LENGTH + 1)]: 'v' } },
      `attributes: attribute name "${'k'.repeat(64)}"… must be at most ${MAX_ATTRIBUTE_NAME_LENGTH} characters`,
    ],
    [
      'too many attributes',
      {
        attributes: Object.fromEntries(
          Array.from({ length: MAX_DEVICE_ATTRIBUTES + 1 }, (_, i) => [`a${i}`, 'v']),
        ),
      },
      `attributes: ${MAX_DEVICE_ATTRIBUTES + 1} attributes: at most ${MAX_DEVICE_ATTRIBUTES}`,
    ],
  ])('refuses a device with %s over its limit, naming the field and the limit', (_what, change, message) => {
    expect(refusal(deviceSchema, { ...device, ...change })).toContain(message);
  });

  it('accepts a device at every limit', () => {
    const attributes = Object.fromEntries(
      Array.from({ length: MAX_DEVICE_ATTRIBUTES }, (_, i) => [
        `${i}`.padEnd(MAX_ATTRIBUTE_NAME_LENGTH, 'k'),
        'đ'.repeat(MAX_ATTRIBUTE_VALUE_LENGTH),
      ]),
    );
    const largest = { ...device, name: 'Đ'.repeat(MAX_NAME_LENGTH), attributes };
    expect(deviceSchema.safeParse(largest).success).toBe(true);
    // The documented reason for the bounds: the largest valid device fits the 64 KiB REST body.
    expect(Buffer.byteLength(JSON.stringify(largest))).toBeLessThan(64 * 1024);
  });

  it.each([
    [
      'level',
      { level: 'l'.repeat(MAX_AREA_LEVEL_LENGTH + 1) },
      `level: must be at most ${MAX_AREA_LEVEL_LENGTH}`,
    ],
    ['note', { note: 'n'.repeat(MAX_AREA_NOTE_LENGTH + 1) }, `note: must be at most ${MAX_AREA_NOTE_LENGTH}`],
    ['name', { name: 'P'.repeat(MAX_NAME_LENGTH + 1) }, `name: must be at most ${MAX_NAME_LENGTH}`],
    ['id', { id: 'a'.repeat(MAX_AREA_ID_LENGTH + 1) }, `id: must be at most ${MAX_AREA_ID_LENGTH}`],
    [
      'parentId',
      { parentId: 'a'.repeat(MAX_AREA_ID_LENGTH + 1) },
      `parentId: must be at most ${MAX_AREA_ID_LENGTH}`,
    ],
  ])('refuses an area whose %s is over its limit', (_what, change, message) => {
    expect(refusal(areaSchema, { ...area, ...change })).toContain(message);
  });

  it.each([
    [
      'NUL in a name',
      { name: 'a\u0000b\u202e<script>' },
      'name: contains the control character U+0000 at position 2',
    ],
    [
      'a right-to-left override',
      { name: 'abc\u202etxt.exe' },
      'name: contains the bidirectional control character U+202E at position 4',
    ],
    ['a first-strong isolate', { name: 'x\u2068y' }, 'U+2068 at position 2'],
    ['a C1 control', { name: 'x\u0085' }, 'name: contains the control character U+0085'],
    [
      'a line feed in an attribute value',
      { attributes: { road: 'a\nb' } },
      'attributes.road: contains the control character U+000A at position 2',
    ],
    [
      'a bidi control in an attribute name',
      { attributes: { 'r\u202ad': 'v' } },
      'attributes: attribute name "r\u202ad" must be letters, digits, _, - or . (1 to 64), starting with a letter or digit',
    ],
    ['DEL in the area id', { areaId: 'x\u007f' }, 'areaId: contains the control character U+007F'],
  ])('refuses %s in a device, naming the field and the code point', (_what, change, message) => {
    expect(refusal(deviceSchema, { ...device, ...change })).toContain(message);
  });

  it.each([
    ['name', { name: 'Phường\u0007' }, 'name: contains the control character U+0007'],
    ['level', { level: 'ward\u2066' }, 'level: contains the bidirectional control character U+2066'],
    ['note', { note: 'line one\r\nline two' }, 'note: contains the control character U+000D at position 9'],
  ])('refuses a control character in an area %s', (_what, change, message) => {
    expect(refusal(areaSchema, { ...area, ...change })).toContain(message);
  });

  it('keeps Vietnamese text and ordinary punctuation', () => {
    expect(
      deviceSchema.safeParse({
        ...device,
        name: 'Đèn đường "Trưng Nữ Vương" — số 1 (ngã tư) ½',
        attributes: { đường: 'Đường 30/4 – Phường 1' },
      }).success,
    ).toBe(true);
  });

  it.each([
    ['__proto__', '{"__proto__":"x","road":"r"}'],
    ['a nested __proto__ beside a good name', '{"road":"r","__proto__":{"polluted":"yes"}}'],
    ['_private', '{"_private":"x"}'],
    ['a space', '{"lamp watts":"150"}'],
    ['an empty name', '{"":"x"}'],
    ['a leading dot', '{".hidden":"x"}'],
  ])(
    'refuses the attribute name %s, naming the field (JSON.parse keeps a __proto__ key zod would drop)',
    (_what, json) => {
      const attributes: unknown = JSON.parse(json);
      expect(refusal(deviceSchema, { ...device, attributes })).toMatch(
        /^attributes: attribute name ".*" must be letters, digits, _, - or \. \(1 to 64\), starting with a letter or digit$/,
      );
    },
  );

  it('accepts attribute names that are Object.prototype members, and keeps them as own properties', () => {
    const attributes = {
      constructor: 'c',
      toString: 't',
      valueOf: 'v',
      hasOwnProperty: 'h',
      'lamp.watts_2-x': 'w',
    };
    const parsed = deviceSchema.parse({ ...device, attributes });
    expect(parsed.attributes).toEqual(attributes);
    expect(Object.keys(parsed.attributes ?? {}).sort()).toEqual(Object.keys(attributes).sort());
  });

  it.each(['ioc-internal', 'ioc-api-9', 'IOC-api-1', 'Ioc-x'])(
    'refuses "%s": ids starting with ioc- belong to platform services',
    (id) => {
      expect(refusal(deviceSchema, { ...device, id })).toBe(
        'id: is reserved (ids starting with "ioc-", in any case, belong to platform services)',
      );
    },
  );

  it('accepts an id that merely contains ioc', () => {
    expect(deviceSchema.safeParse({ ...device, id: 'sl-ioc-1' }).success).toBe(true);
    expect(deviceSchema.safeParse({ ...device, id: 'iocx-1' }).success).toBe(true);
  });
});
