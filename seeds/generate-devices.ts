/**
 * Generates seeds/devices.json from seeds/areas.json. Deterministic (seeded PRNG), so running it
 * again reproduces the committed file byte for byte unless the plan or the areas changed.
 *
 *   node -r ./scripts/register.js seeds/generate-devices.ts
 *
 * The JSON is the source of truth; this script only records how it was first made.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Area, type Device, type DeviceType, domainOf, DEVICE_TYPES, isDeviceId } from '@ioc/contracts';
import { mulberry32 } from '@ioc/runtime';

const SEED = 20250701;
const SEEDS_DIR = __dirname;

const random = mulberry32(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

interface DistrictPlan {
  /** Short code used in device ids, e.g. `sl-ht-042`. */
  code: string;
  /** Road labels for roadside devices: national highways are real routes, the rest illustrative. */
  roads: readonly string[];
}

const DISTRICTS: Readonly<Record<string, DistrictPlan>> = {
  'tay-ninh-city': {
    code: 'tn',
    roads: ['Đường 30 Tháng 4', 'Đường Cách Mạng Tháng Tám', 'Đường Trần Hưng Đạo', 'Quốc lộ 22B'],
  },
  'hoa-thanh': { code: 'ht', roads: ['Quốc lộ 22B', 'Đường Phạm Văn Đồng', 'Đường Lý Thường Kiệt'] },
  'trang-bang': { code: 'tb', roads: ['Quốc lộ 22', 'Đường tỉnh 782'] },
  'go-dau': { code: 'gd', roads: ['Quốc lộ 22', 'Quốc lộ 22B'] },
  'ben-cau': { code: 'bc', roads: ['Đường tỉnh 786'] },
  'chau-thanh': { code: 'ct', roads: ['Đường tỉnh 781'] },
  'duong-minh-chau': { code: 'dmc', roads: ['Đường tỉnh 781', 'Đường tỉnh 784'] },
  'tan-bien': { code: 'tbn', roads: ['Quốc lộ 22B'] },
  'tan-chau': { code: 'tch', roads: ['Đường tỉnh 785'] },
};

const ID_PREFIX: Readonly<Record<DeviceType, string>> = {
  'air-quality-station': 'aq',
  'water-quality-station': 'wq',
  'noise-meter': 'nm',
  'weather-station': 'ws',
  'traffic-counter': 'tc',
  'traffic-signal': 'ts',
  'street-light': 'sl',
  'lighting-cabinet': 'lc',
  camera: 'cam',
};

const NAME_PREFIX: Readonly<Record<DeviceType, string>> = {
  'air-quality-station': 'Trạm quan trắc không khí',
  'water-quality-station': 'Trạm quan trắc nước mặt',
  'noise-meter': 'Thiết bị đo tiếng ồn',
  'weather-station': 'Trạm khí tượng tự động',
  'traffic-counter': 'Bộ đếm lưu lượng giao thông',
  'traffic-signal': 'Đèn tín hiệu giao thông',
  'street-light': 'Đèn chiếu sáng',
  'lighting-cabinet': 'Tủ điều khiển chiếu sáng',
  camera: 'Camera giám sát',
};

type Allocation = Readonly<Record<string, number>>;
// Order: tay-ninh-city, hoa-thanh, trang-bang, go-dau, ben-cau, chau-thanh, duong-minh-chau, tan-bien, tan-chau.
const alloc = (...counts: number[]): Allocation =>
  Object.fromEntries(Object.keys(DISTRICTS).map((district, index) => [district, counts[index] ?? 0]));

/** Devices per district, densest in the urban core (Tây Ninh city, Hòa Thành, Trảng Bàng, Gò Dầu). */
const PLAN: Readonly<Record<Exclude<DeviceType, 'water-quality-station'>, Allocation>> = {
  'air-quality-station': alloc(3, 2, 2, 2, 0, 1, 1, 0, 1),
  'noise-meter': alloc(5, 3, 3, 2, 0, 1, 1, 0, 0),
  'weather-station': alloc(1, 1, 1, 1, 1, 1, 1, 1, 1),
  'traffic-counter': alloc(12, 8, 8, 6, 1, 1, 2, 1, 1),
  'traffic-signal': alloc(9, 5, 5, 3, 0, 1, 1, 0, 1),
  'lighting-cabinet': alloc(4, 2, 2, 2, 1, 1, 1, 1, 1),
  'street-light': alloc(45, 30, 25, 20, 5, 5, 8, 6, 6),
  camera: alloc(10, 5, 5, 4, 1, 1, 2, 1, 1),
};

/** Surface-water stations sit on the Vàm Cỏ Đông river or the Dầu Tiếng reservoir. */
const WATER_STATIONS: readonly { areaId: string; waterBody: 'river' | 'reservoir'; name: string }[] = [
  { areaId: 'go-dau-go-dau', waterBody: 'river', name: 'Sông Vàm Cỏ Đông' },
  { areaId: 'go-dau-thanh-phuoc', waterBody: 'river', name: 'Sông Vàm Cỏ Đông' },
  { areaId: 'ben-cau-ben-cau', waterBody: 'river', name: 'Sông Vàm Cỏ Đông' },
  { areaId: 'ben-cau-long-thuan', waterBody: 'river', name: 'Sông Vàm Cỏ Đông' },
  { areaId: 'trang-bang-phuoc-chi', waterBody: 'river', name: 'Sông Vàm Cỏ Đông' },
  { areaId: 'duong-minh-chau-suoi-da', waterBody: 'reservoir', name: 'Hồ Dầu Tiếng' },
  { areaId: 'duong-minh-chau-phuoc-minh', waterBody: 'reservoir', name: 'Hồ Dầu Tiếng' },
  { areaId: 'tan-chau-suoi-ngo', waterBody: 'reservoir', name: 'Hồ Dầu Tiếng' },
];

/** Scatter radius in degrees (0.01° ≈ 1.1 km): tight in urban wards, wider in rural communes. */
const JITTER_DEGREES: Readonly<Record<string, number>> = { ward: 0.006, township: 0.008, commune: 0.015 };
/** Urban units get more devices than rural communes of the same district. */
const LEVEL_WEIGHT: Readonly<Record<string, number>> = { ward: 3, township: 3, commune: 1 };

const areas = JSON.parse(readFileSync(join(SEEDS_DIR, 'areas.json'), 'utf8')) as Area[];
const areaById = new Map(areas.map((area) => [area.id, area]));
const leavesOf = (districtId: string): Area[] => {
  const leaves = areas.filter((area) => area.parentId === districtId);
  if (leaves.length === 0) throw new Error(`areas.json has no communes or wards under "${districtId}"`);
  return leaves;
};
const districtOf = (areaId: string): string => {
  const parentId = areaById.get(areaId)?.parentId;
  if (!parentId || !(parentId in DISTRICTS))
    throw new Error(`area "${areaId}" is not under a planned district`);
  return parentId;
};

function weightedLeaf(districtId: string): Area {
  const leaves = leavesOf(districtId);
  const total = leaves.reduce((sum, leaf) => sum + (LEVEL_WEIGHT[leaf.level] ?? 1), 0);
  let target = random() * total;
  for (const leaf of leaves) {
    target -= LEVEL_WEIGHT[leaf.level] ?? 1;
    if (target < 0) return leaf;
  }
  return leaves[leaves.length - 1] as Area;
}

/** The commune or ward closest to the district's centre: where its main town is. */
function centralLeaf(districtId: string): Area {
  const centre = areaById.get(districtId)?.location;
  const leaves = leavesOf(districtId);
  if (!centre) return leaves[0] as Area;
  return [...leaves].sort(
    (a, b) => distance2(a.location ?? centre, centre) - distance2(b.location ?? centre, centre),
  )[0] as Area;
}

function distance2(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  return (a.lat - b.lat) ** 2 + (a.lon - b.lon) ** 2;
}

const round6 = (value: number): number => Math.round(value * 1e6) / 1e6;

function jitter(area: Area): { lat: number; lon: number } {
  if (!area.location) throw new Error(`area "${area.id}" has no location to place devices around`);
  const radius = (JITTER_DEGREES[area.level] ?? 0.01) * Math.sqrt(random());
  const angle = 2 * Math.PI * random();
  return {
    lat: round6(area.location.lat + radius * Math.sin(angle)),
    lon: round6(area.location.lon + radius * Math.cos(angle)),
  };
}

const counters = new Map<string, number>();
function nextId(type: DeviceType, districtId: string): { id: string; number: string } {
  const key = `${ID_PREFIX[type]}-${DISTRICTS[districtId]?.code}`;
  const next = (counters.get(key) ?? 0) + 1;
  counters.set(key, next);
  const number = String(next).padStart(3, '0');
  return { id: `${key}-${number}`, number };
}

function makeDevice(type: DeviceType, area: Area, attributes: Record<string, string>): Device {
  const { id, number } = nextId(type, districtOf(area.id));
  const place = attributes['road'] ?? attributes['waterBodyName'];
  return {
    id,
    type,
    domain: domainOf(type),
    name: `${NAME_PREFIX[type]} ${number} – ${place ? `${place}, ` : ''}${area.name}`,
    areaId: area.id,
    location: jitter(area),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
}

const roadOf = (districtId: string): string => pick(DISTRICTS[districtId]?.roads ?? ['']);
const isHighway = (road: string): boolean => road.startsWith('Quốc lộ');

function attributesFor(
  type: Exclude<DeviceType, 'water-quality-station' | 'street-light'>,
  districtId: string,
): Record<string, string> {
  const road = roadOf(districtId);
  switch (type) {
    case 'air-quality-station':
      return random() < 0.6 ? { site: 'roadside', road } : { site: 'background' };
    case 'noise-meter':
      return { road };
    case 'weather-station':
      return {};
    case 'traffic-counter':
      return {
        road,
        roadClass: isHighway(road) ? 'highway' : 'urban',
        lanes: String(isHighway(road) ? pick([4, 6]) : pick([2, 4])),
      };
    case 'traffic-signal':
      return {
        road,
        stages: String(pick([2, 2, 3, 4])),
        cycleSeconds: String(pick([60, 90, 90, 120])),
        // Many Vietnamese junctions switch to flashing amber late at night.
        nightMode: random() < 0.5 ? 'flashing' : 'fixedTime',
      };
    case 'lighting-cabinet':
      return { road, circuits: String(pick([2, 3, 4])) };
    case 'camera':
      return { road, purpose: random() < 0.7 ? 'traffic' : 'public-order' };
  }
}

const devices: Device[] = [];
for (const type of DEVICE_TYPES) {
  if (type === 'water-quality-station') {
    for (const station of WATER_STATIONS) {
      const area = areaById.get(station.areaId);
      if (!area) throw new Error(`water station area "${station.areaId}" is missing from areas.json`);
      devices.push(makeDevice(type, area, { waterBody: station.waterBody, waterBodyName: station.name }));
    }
    continue;
  }
  if (type === 'street-light') continue; // placed after the cabinets that feed them
  for (const [districtId, count] of Object.entries(PLAN[type])) {
    for (let i = 0; i < count; i += 1) {
      const area = type === 'weather-station' ? centralLeaf(districtId) : weightedLeaf(districtId);
      devices.push(makeDevice(type, area, attributesFor(type, districtId)));
    }
  }
}

// Each lamp hangs off a nearby cabinet in its district, so a cabinet's load is its lamps' sum.
const cabinets = devices.filter((device) => device.type === 'lighting-cabinet');
const lampsPerCabinet = new Map<string, number>();
for (const [districtId, count] of Object.entries(PLAN['street-light'])) {
  const local = cabinets.filter((cabinet) => districtOf(cabinet.areaId) === districtId);
  if (count > 0 && local.length === 0)
    throw new Error(`street lights planned in "${districtId}" without a cabinet`);
  for (let i = 0; i < count; i += 1) {
    const area = weightedLeaf(districtId);
    const road = roadOf(districtId);
    const light = makeDevice('street-light', area, {
      road,
      cabinetId: '',
      lampWatts: String(isHighway(road) ? pick([150, 250]) : pick([60, 100, 120])),
    });
    // Nearest cabinet that still has room, so no cabinet ends up feeding a single lamp.
    const capacity = Math.ceil(count / local.length) + 2;
    const cabinet = local
      .filter((candidate) => (lampsPerCabinet.get(candidate.id) ?? 0) < capacity)
      .sort(
        (a, b) => distance2(a.location, light.location) - distance2(b.location, light.location),
      )[0] as Device;
    (light.attributes as Record<string, string>)['cabinetId'] = cabinet.id;
    lampsPerCabinet.set(cabinet.id, (lampsPerCabinet.get(cabinet.id) ?? 0) + 1);
    devices.push(light);
  }
}
for (const cabinet of cabinets) {
  (cabinet.attributes as Record<string, string>)['lampCount'] = String(lampsPerCabinet.get(cabinet.id) ?? 0);
}

// Zone classes the default rules (seeds/rules.json) key their limits on, assigned without the
// PRNG so the rest of the file is unchanged: QCVN 26:2010/BTNMT's "special" areas (hospitals,
// schools, offices) for every fifth noise meter, "normal" for the others; QCVN 08:2023/BTNMT's
// water class A (drinking-water source) for the Dầu Tiếng reservoir, B for the river.
let noiseMeters = 0;
for (const device of devices) {
  const attributes = device.attributes as Record<string, string> | undefined;
  if (device.type === 'noise-meter' && attributes) {
    attributes['noiseZone'] = noiseMeters % 5 === 0 ? 'special' : 'normal';
    noiseMeters += 1;
  }
  if (device.type === 'water-quality-station' && attributes) {
    attributes['waterClass'] = attributes['waterBody'] === 'reservoir' ? 'A' : 'B';
  }
}

// Cameras' video links (demo values, also without the PRNG): the RTSP stream and the JPEG
// snapshot URL an operator's console links to (the platform does not proxy video), in the path
// style of common IP cameras (Hikvision ISAPI: channel 101 = first channel, main stream). Each
// camera n (1, 2, … in file order) has the private address 10.32.<a>.<b>, a = 1 + ⌊(n−1)/254⌋,
// b = 1 + (n−1) mod 254: a camera network of the province's own, never reachable from outside.
let cameras = 0;
for (const device of devices) {
  const attributes = device.attributes as Record<string, string> | undefined;
  if (device.type !== 'camera' || !attributes) continue;
  const address = `10.32.${1 + Math.floor(cameras / 254)}.${1 + (cameras % 254)}`;
  attributes['streamUrl'] = `rtsp://${address}:554/Streaming/Channels/101`;
  attributes['snapshotUrl'] = `http://${address}/ISAPI/Streaming/channels/101/picture`;
  cameras += 1;
}

for (const device of devices) {
  if (!isDeviceId(device.id)) throw new Error(`generated id "${device.id}" does not match DEVICE_ID_PATTERN`);
}
writeFileSync(join(SEEDS_DIR, 'devices.json'), `${JSON.stringify(devices, null, 2)}\n`);
process.stdout.write(`wrote ${devices.length} devices to ${join(SEEDS_DIR, 'devices.json')}\n`);
