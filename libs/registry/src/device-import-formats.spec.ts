import type { Device } from '@ioc/contracts';
import {
  devicesToCsv,
  devicesToGeoJson,
  ImportFileError,
  MAX_IMPORT_ROWS,
  parseDeviceCsv,
  parseDeviceGeoJson,
} from './device-import-formats';
import { loadSeeds } from './seed-loader';

const CSV = [
  '\uFEFFid,type,name,areaId,lat,lon,attr.road,state,silenceTimeoutSeconds',
  'sl-001,street-light,Đèn đường Trưng Nữ Vương,ward-1,11.31,106.11,Đường 30 Tháng 4,,',
  'sl-002,street-light,"Đèn ""góc""\nhai dòng",ward-1,11.32,106.12,,suspended,600',
  '',
  'sl-003,street-light,Đèn 3,ward-1,abc,106.1,,,',
  'sl-004,toaster,Máy nướng,ward-1,11,106,,,',
  'sl-005,street-light,Đèn 5,ward-1,91,106,,,',
  'sl-006,street-light,,ward-1,11,106,,,',
  'sl-007,street-light,Đèn 7,ward-1,11,106',
  'bad id!,street-light,Đèn 8,ward-1,11,106,,,',
  'sl-009,street-light,Đèn 9,ward-1,11,106,,paused,',
].join('\r\n');

describe('parseDeviceCsv', () => {
  it('reads good rows (BOM, Vietnamese, quoted newlines) and names the reason of each bad one, by line', () => {
    const rows = parseDeviceCsv(CSV);
    expect(rows[0]).toEqual({
      row: 2,
      device: {
        id: 'sl-001',
        type: 'street-light',
        domain: 'lighting',
        name: 'Đèn đường Trưng Nữ Vương',
        areaId: 'ward-1',
        location: { lat: 11.31, lon: 106.11 },
        attributes: { road: 'Đường 30 Tháng 4' },
      },
    });
    expect(rows[1]).toEqual({
      row: 3,
      device: expect.objectContaining({
        id: 'sl-002',
        name: 'Đèn "góc"\nhai dòng',
        state: 'suspended',
        silenceTimeoutSeconds: 600,
      }) as Device,
    });
    expect(rows.slice(2)).toEqual([
      { row: 6, id: 'sl-003', error: 'column lat: "abc" is not a number' },
      { row: 7, id: 'sl-004', error: 'unknown device type "toaster"' },
      { row: 8, id: 'sl-005', error: expect.stringMatching(/^location\.lat: /) as string },
      { row: 9, id: 'sl-006', error: 'missing column name' },
      { row: 10, id: 'sl-007', error: '6 fields where the header has 9' },
      { row: 11, id: 'bad id!', error: expect.stringMatching(/^id: must match/) as string },
      { row: 12, id: 'sl-009', error: expect.stringMatching(/^state: /) as string },
    ]);
  });

  it.each([
    ['an empty file', '', /empty CSV file/],
    ['a header without required columns', 'id,name\r\na,b', /missing columns type, areaId, lat, lon/],
    ['an unknown column', 'id,type,name,areaId,lat,lon,colour', /unknown column "colour"/],
    ['a column twice', 'id,type,name,areaId,lat,lon,lat', /column "lat" appears twice/],
    ['an unclosed quote', 'id,type,name,areaId,lat,lon\r\na,"b', /not a readable CSV file: Quote Not Closed/],
    ['binary that is not CSV', '\u0000\u0001PK\u0003\u0004', /missing columns id, type/],
  ])('refuses %s as a whole', (_name, text, message) => {
    expect(() => parseDeviceCsv(text)).toThrow(ImportFileError);
    expect(() => parseDeviceCsv(text)).toThrow(message);
  });

  it('refuses a file of more than MAX_IMPORT_ROWS rows', () => {
    const text = 'id,type,name,areaId,lat,lon\n' + 'a,b,c,d,1,2\n'.repeat(MAX_IMPORT_ROWS + 1);
    expect(() => parseDeviceCsv(text)).toThrow(`${MAX_IMPORT_ROWS + 1} rows: at most ${MAX_IMPORT_ROWS}`);
  });
});

describe('parseDeviceGeoJson', () => {
  const point = (properties: Record<string, unknown>, coordinates: unknown = [106.11, 11.31]) => ({
    type: 'Feature',
    geometry: { type: 'Point', coordinates },
    properties,
  });
  const base = { id: 'sl-001', type: 'street-light', name: 'Đèn 1', areaId: 'ward-1' };

  it('reads [lon, lat] points with properties, attributes flat or as an object, numbering features from 1', () => {
    const rows = parseDeviceGeoJson(
      '\uFEFF' +
        JSON.stringify({
          type: 'FeatureCollection',
          features: [
            point({ ...base, 'attr.road': 'Đường 1' }),
            point({ ...base, id: 'sl-002', attributes: { road: 'Đường 2' }, silenceTimeoutSeconds: 120 }),
            {
              type: 'Feature',
              geometry: { type: 'LineString', coordinates: [] },
              properties: { ...base, id: 'sl-003' },
            },
            point({ ...base, id: 'sl-004' }, ['106', 11]),
            point({ ...base, id: 'sl-005', type: 'toaster' }),
            { type: 'Feature', id: 'sl-006', geometry: { type: 'Point', coordinates: [1, 2] } },
            'not a feature',
          ],
        }),
    );
    expect(rows.slice(0, 2)).toEqual([
      {
        row: 1,
        device: {
          ...base,
          type: 'street-light',
          domain: 'lighting',
          location: { lat: 11.31, lon: 106.11 },
          attributes: { road: 'Đường 1' },
        },
      },
      {
        row: 2,
        device: expect.objectContaining({
          id: 'sl-002',
          attributes: { road: 'Đường 2' },
          silenceTimeoutSeconds: 120,
        }) as Device,
      },
    ]);
    expect(rows.slice(2)).toEqual([
      { row: 3, id: 'sl-003', error: 'geometry is a LineString, not a Point' },
      { row: 4, id: 'sl-004', error: expect.stringContaining('[lon, lat]') as string },
      { row: 5, id: 'sl-005', error: 'unknown device type "toaster"' },
      { row: 6, id: 'sl-006', error: 'feature has no properties object' },
      { row: 7, error: 'not a GeoJSON Feature' },
    ]);
  });

  it.each([
    ['not JSON', '{"type":', /not JSON/],
    ['a single Feature', JSON.stringify(point(base)), /not a GeoJSON FeatureCollection/],
    ['features that are not an array', '{"type":"FeatureCollection","features":{}}', /FeatureCollection/],
  ])('refuses %s as a whole', (_name, text, message) => {
    expect(() => parseDeviceGeoJson(text)).toThrow(ImportFileError);
    expect(() => parseDeviceGeoJson(text)).toThrow(message);
  });
});

describe('export', () => {
  const seeds = loadSeeds().devices.map((d, i) =>
    i % 3 === 0
      ? { ...d, state: 'suspended' as const, silenceTimeoutSeconds: 900 }
      : { ...d, state: 'active' as const },
  );

  it('CSV: what is exported parses back to the same devices', () => {
    const csv = devicesToCsv(seeds);
    expect(csv.startsWith('\uFEFFid,type,domain,name,areaId,lat,lon,state,silenceTimeoutSeconds')).toBe(true);
    const rows = parseDeviceCsv(csv);
    expect(rows.map((r) => ('device' in r ? r.device : r))).toEqual(seeds);
  });

  it('GeoJSON: [lon, lat] points whose features parse back to the same devices', () => {
    const geojson = devicesToGeoJson(seeds);
    const first = seeds[0]!;
    expect(geojson.features[0]?.geometry).toEqual({
      type: 'Point',
      coordinates: [first.location.lon, first.location.lat],
    });
    const rows = parseDeviceGeoJson(JSON.stringify(geojson));
    expect(rows.map((r) => ('device' in r ? r.device : r))).toEqual(seeds);
  });
});
