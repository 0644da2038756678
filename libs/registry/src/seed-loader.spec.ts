import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Area, type Device, DEVICE_ID_PATTERN, DEVICE_TYPES, domainOf } from '@ioc/contracts';
import { DEFAULT_SEEDS_DIR, loadSeeds } from './seed-loader';
import { SeedValidationError } from './seed-validation';

const readRaw = <T>(file: string): T => JSON.parse(readFileSync(join(DEFAULT_SEEDS_DIR, file), 'utf8')) as T;

describe('loadSeeds on the repository seeds', () => {
  const raw = { areas: readRaw<Area[]>('areas.json'), devices: readRaw<Device[]>('devices.json') };
  const seeds = loadSeeds();

  it('loads every area and device from the files', () => {
    expect(seeds.areas.map((a) => a.id)).toEqual(raw.areas.map((a) => a.id));
    expect(seeds.devices.map((d) => d.id)).toEqual(raw.devices.map((d) => d.id));
  });

  it('has a single province root with the nine pre-2025 districts below it', () => {
    const roots = seeds.areas.filter((a) => a.parentId === null);
    expect(roots.map((r) => r.id)).toEqual(['tay-ninh']);
    const districts = seeds.areas.filter((a) => a.parentId === 'tay-ninh');
    expect(districts).toHaveLength(9);
    for (const district of districts) expect(district.level).toBe('district');
  });

  it('covers every device type, with domains that match and ids that match the pattern', () => {
    expect(new Set(seeds.devices.map((d) => d.type))).toEqual(new Set(DEVICE_TYPES));
    for (const device of seeds.devices) {
      expect(device.domain).toBe(domainOf(device.type));
      expect(device.id).toMatch(DEVICE_ID_PATTERN);
    }
  });

  it('links every street light to an existing cabinet whose lampCount matches', () => {
    const lights = seeds.devices.filter((d) => d.type === 'street-light');
    for (const cabinet of seeds.devices.filter((d) => d.type === 'lighting-cabinet')) {
      const fed = lights.filter((l) => l.attributes?.['cabinetId'] === cabinet.id).length;
      expect(Number(cabinet.attributes?.['lampCount'])).toBe(fed);
    }
    const cabinetIds = new Set(seeds.devices.filter((d) => d.type === 'lighting-cabinet').map((d) => d.id));
    for (const light of lights) expect(cabinetIds.has(light.attributes?.['cabinetId'] ?? '')).toBe(true);
  });
});

describe('loadSeeds rejects invalid seeds', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'registry-seeds-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const validAreas = (): Area[] => [
    { id: 'root', name: 'Tỉnh', level: 'province', parentId: null, location: { lat: 11.3, lon: 106.1 } },
    { id: 'district-a', name: 'Huyện A', level: 'district', parentId: 'root' },
    { id: 'district-a-x', name: 'Xã X', level: 'commune', parentId: 'district-a' },
  ];
  const validDevices = (): Device[] => [
    {
      id: 'aq-001',
      type: 'air-quality-station',
      domain: 'env',
      name: 'Trạm 1',
      areaId: 'district-a-x',
      location: { lat: 11.3, lon: 106.1 },
    },
    {
      id: 'sl-001',
      type: 'street-light',
      domain: 'lighting',
      name: 'Đèn 1',
      areaId: 'district-a',
      location: { lat: 11.31, lon: 106.11 },
    },
  ];

  function write(areas: unknown, devices: unknown): void {
    writeFileSync(join(dir, 'areas.json'), typeof areas === 'string' ? areas : JSON.stringify(areas));
    writeFileSync(join(dir, 'devices.json'), typeof devices === 'string' ? devices : JSON.stringify(devices));
  }

  function problemsOf(areas: unknown, devices: unknown): string[] {
    write(areas, devices);
    try {
      loadSeeds(dir);
    } catch (error) {
      expect(error).toBeInstanceOf(SeedValidationError);
      return [...(error as SeedValidationError).problems];
    }
    throw new Error('expected loadSeeds to throw');
  }

  it('accepts the valid fixture (so each failure below is caused by its mutation)', () => {
    write(validAreas(), validDevices());
    const seeds = loadSeeds(dir);
    expect(seeds.areas).toHaveLength(3);
    expect(seeds.devices).toHaveLength(2);
  });

  type Mutation = (areas: Area[], devices: Device[]) => void;
  const cases: [string, Mutation, RegExp][] = [
    ['a duplicate area id', (a) => a.push({ ...a[2]!, name: 'again' }), /duplicate area id "district-a-x"/],
    [
      'a missing parent',
      (a) => a.push({ id: 'orphan', name: 'Mồ côi', level: 'commune', parentId: 'nowhere' }),
      /id "orphan"\): parent "nowhere" does not exist/,
    ],
    [
      'a cycle',
      (a) =>
        a.push(
          { id: 'loop-a', name: 'A', level: 'x', parentId: 'loop-b' },
          { id: 'loop-b', name: 'B', level: 'x', parentId: 'loop-a' },
        ),
      /cycle: "loop-[ab]" -> "loop-[ab]" -> "loop-[ab]"/,
    ],
    [
      'two roots',
      (a) => a.push({ id: 'other-root', name: 'Khác', level: 'province', parentId: null }),
      /exactly one root.*found 2: "root", "other-root"/,
    ],
    ['no root', (a) => (a[0]!.parentId = 'district-a-x'), /exactly one root.*found 0/],
    [
      'a device domain that does not match its type',
      (_a, d) => (d[1]!.domain = 'env'),
      /id "sl-001"\): domain "env" does not match type "street-light" \(domain "lighting"\)/,
    ],
    [
      'a device in an unknown area',
      (_a, d) => (d[0]!.areaId = 'atlantis'),
      /id "aq-001"\): area "atlantis" does not exist/,
    ],
    [
      'a malformed device id',
      (_a, d) => (d[0]!.id = 'aq 001/#'),
      /devices\.json\[0\] \(id "aq 001\/#"\): id: must match/,
    ],
    ['a duplicate device id', (_a, d) => (d[1]!.id = 'aq-001'), /duplicate device id "aq-001"/],
    [
      'a latitude out of range',
      (_a, d) => (d[1]!.location.lat = 91),
      /devices\.json\[1\] \(id "sl-001"\): location\.lat/,
    ],
    [
      'a longitude out of range',
      (a) => (a[0]!.location = { lat: 11, lon: 190 }),
      /areas\.json\[0\] \(id "root"\): location\.lon/,
    ],
    [
      'an unknown device type',
      (_a, d) => ((d[0] as { type: string }).type = 'toaster'),
      /id "aq-001"\): type/,
    ],
    [
      'an area id that is not a slug',
      (a) => (a[1]!.id = 'Huyện-Á'),
      /areas\.json\[1\] \(id "Huyện-Á"\): id: must be a lowercase ASCII slug/,
    ],
    [
      'an unknown field',
      (_a, d) => ((d[0] as unknown as Record<string, unknown>)['colour'] = 'red'),
      /devices\.json\[0\] \(id "aq-001"\).*colour/,
    ],
  ];

  it.each(cases)('rejects %s, naming the entry', (_name, mutate, expected) => {
    const areas = validAreas();
    const devices = validDevices();
    mutate(areas, devices);
    const problems = problemsOf(areas, devices);
    expect(problems.some((problem) => expected.test(problem))).toBe(true);
  });

  it('rejects a file that is not JSON, naming the file', () => {
    expect(problemsOf('[{"id": ', validDevices())).toEqual([
      expect.stringMatching(/^areas\.json: not valid JSON/),
    ]);
  });

  it('rejects a file that is not an array', () => {
    expect(problemsOf(validAreas(), { devices: [] })).toContain('devices.json: must be a JSON array');
  });

  it('rejects a missing file, naming it', () => {
    writeFileSync(join(dir, 'areas.json'), JSON.stringify(validAreas()));
    expect(() => loadSeeds(dir)).toThrow(/devices\.json: cannot read/);
  });

  it('reports every problem at once', () => {
    const areas = validAreas();
    const devices = validDevices();
    devices[0]!.areaId = 'atlantis';
    devices[1]!.domain = 'camera';
    expect(problemsOf(areas, devices)).toHaveLength(2);
  });
});
