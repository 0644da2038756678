// Demo of @ioc/console-map with generated devices (no server): see vite.config.mjs for the URL parameters.
import { aqiBand } from '@ioc/aqi';
import { I18n } from '@ioc/console-data';
import type { AreaListBody, BasemapBody, DeviceType, Domain } from '@ioc/contracts';
import { createDeviceMap, type MapDevice } from '../src';

const params = new URLSearchParams(location.search);
const count = Number(params.get('n') ?? 2000);
const rate = Number(params.get('rate') ?? 0);
const basemap: BasemapBody =
  params.get('basemap') === 'xyz'
    ? { kind: 'xyz', url: params.get('tiles') ?? '/tiles/{z}/{x}/{y}.png', attribution: 'Demo tiles', maxZoom: 19 }
    : params.get('basemap') === 'pmtiles'
      ? { kind: 'pmtiles', url: params.get('pmtiles') ?? '/basemap/basemap.pmtiles', attribution: 'Demo', maxZoom: 16 }
      : { kind: 'none' };

/** mulberry32: a small deterministic PRNG, so every load shows the same devices. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(11);

const DISTRICTS: Array<[string, string, number, number]> = [
  ['tay-ninh-city', 'Thành phố Tây Ninh', 11.31, 106.098],
  ['hoa-thanh', 'Thị xã Hòa Thành', 11.285, 106.13],
  ['trang-bang', 'Thị xã Trảng Bàng', 11.03, 106.36],
  ['go-dau', 'Huyện Gò Dầu', 11.085, 106.26],
  ['duong-minh-chau', 'Huyện Dương Minh Châu', 11.37, 106.25],
  ['chau-thanh', 'Huyện Châu Thành', 11.3, 105.95],
  ['tan-bien', 'Huyện Tân Biên', 11.55, 106.0],
  ['tan-chau', 'Huyện Tân Châu', 11.55, 106.17],
  ['ben-cau', 'Huyện Bến Cầu', 11.12, 106.15],
];
const areas: AreaListBody = [
  { id: 'tay-ninh', name: 'Tây Ninh', level: 'province', parentId: null, location: { lat: 11.31, lon: 106.1 } },
];
const communes: Array<{ id: string; districtId: string; lat: number; lon: number }> = [];
for (const [id, name, lat, lon] of DISTRICTS) {
  areas.push({ id, name, level: 'district', parentId: 'tay-ninh', location: { lat, lon } });
  for (let c = 1; c <= 4; c++) {
    const cLat = lat + (random() - 0.5) * 0.08;
    const cLon = lon + (random() - 0.5) * 0.08;
    areas.push({ id: `${id}-${c}`, name: `Phường ${c} (${name.replace(/^(Thành phố|Thị xã|Huyện) /, '')})`, level: 'ward', parentId: id, location: { lat: cLat, lon: cLon } });
    communes.push({ id: `${id}-${c}`, districtId: id, lat: cLat, lon: cLon });
  }
}

const TYPES: Array<[DeviceType, Domain, string, string]> = [
  ['air-quality-station', 'env', 'aq', 'Trạm quan trắc không khí'],
  ['water-quality-station', 'env', 'wq', 'Trạm quan trắc nước'],
  ['noise-meter', 'env', 'nm', 'Thiết bị đo tiếng ồn'],
  ['weather-station', 'env', 'ws', 'Trạm khí tượng'],
  ['traffic-counter', 'traffic', 'tc', 'Đếm xe đường'],
  ['traffic-signal', 'traffic', 'ts', 'Đèn tín hiệu nút'],
  ['street-light', 'lighting', 'sl', 'Đèn đường'],
  ['street-light', 'lighting', 'sl', 'Đèn đường'],
  ['street-light', 'lighting', 'sl', 'Đèn đường'],
  ['lighting-cabinet', 'lighting', 'lc', 'Tủ chiếu sáng'],
  ['camera', 'camera', 'cam', 'Camera giám sát'],
];
const devices: MapDevice[] = [];
for (let i = 0; i < count; i++) {
  const [type, domain, prefix, label] = TYPES[i % TYPES.length];
  const commune = communes[Math.floor(random() * communes.length)];
  const district = DISTRICTS.find((d) => d[0] === commune.districtId) as (typeof DISTRICTS)[number];
  const roll = random();
  const state = roll < 0.8 ? 'online' : roll < 0.9 ? 'offline' : roll < 0.95 ? 'unknown' : roll < 0.98 ? 'alerting' : 'inactive';
  const aqiValue = type === 'air-quality-station' && state !== 'unknown' ? Math.round(random() * 260) : null;
  devices.push({
    id: `${prefix}-${String(i).padStart(5, '0')}`,
    name: `${label} ${district[1].replace(/^(Thành phố|Thị xã|Huyện) /, '')} ${i}`,
    domain,
    type,
    lat: commune.lat + (random() - 0.5) * 0.03,
    lon: commune.lon + (random() - 0.5) * 0.03,
    areaPath: [],
    areaId: commune.id,
    state,
    aqi: aqiValue === null ? null : { value: aqiValue, band: aqiBand(aqiValue).band },
    alertSeverity: state === 'alerting' ? (random() < 0.5 ? 'critical' : 'warning') : null,
    main: type === 'traffic-counter' ? { metric: 'intensity', value: Math.round(random() * 900), unit: 'xe/h' } : null,
  });
}

const i18n = new I18n(params.get('locale') === 'en' ? 'en' : 'vi');
const selected = document.querySelector('[data-testid=demo-selected]') as HTMLOutputElement;
const map = createDeviceMap(document.getElementById('map') as HTMLElement, {
  basemap,
  i18n,
  onSelect: (id) => {
    selected.value = id;
  },
});
const t0 = performance.now();
map.setAreas(areas);
map.setDevices(devices);
const stats = document.querySelector('[data-testid=demo-stats]') as HTMLElement;
stats.textContent = `${count} thiết bị, setDevices ${Math.round(performance.now() - t0)} ms`;

document.querySelector('[data-testid=demo-alert]')?.addEventListener('click', () => {
  const first = devices[0];
  devices[0] = { ...first, state: 'alerting', alertSeverity: 'critical' };
  map.updateDevices([devices[0]]);
});
document.querySelector('[data-testid=demo-locale]')?.addEventListener('click', () => {
  i18n.setLocale(i18n.locale === 'vi' ? 'en' : 'vi');
});

// Live updates: `rate` readings/s spread over frames; each changes a random device's AQI or state.
if (rate > 0) {
  let last = performance.now();
  const tick = (now: number): void => {
    const n = Math.round((rate * (now - last)) / 1000);
    last = now;
    const batch: MapDevice[] = [];
    for (let k = 0; k < n; k++) {
      const index = Math.floor(random() * devices.length);
      const d = devices[index];
      const next: MapDevice =
        d.aqi !== null
          ? { ...d, aqi: { value: Math.round(random() * 260), band: aqiBand(Math.round(random() * 260)).band } }
          : { ...d, state: random() < 0.02 ? 'offline' : d.state === 'offline' ? 'online' : d.state };
      devices[index] = next;
      batch.push(next);
    }
    map.updateDevices(batch);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
