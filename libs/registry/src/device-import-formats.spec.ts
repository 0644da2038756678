import { parse } from 'csv-parse/sync';
import type { Device } from '@ioc/contracts';
import {
  decodeImportFile,
  devicesToCsv,
  devicesToGeoJson,
  ImportFileError,
  invalidUtf8Offset,
  MAX_IMPORT_ROWS,
  neutraliseCsvCell,
  parseDeviceCsv,
  parseDeviceFile,
  parseDeviceGeoJson,
  restoreCsvCell,
} from './device-import-formats';
import { MAX_ATTRIBUTE_VALUE_LENGTH, MAX_NAME_LENGTH } from './seed-schemas';
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
    // A quoted field may span lines (the row is numbered by its first line), but a line feed is a
    // control character no registry text may hold.
    expect(rows[1]).toEqual({
      row: 3,
      id: 'sl-002',
      error:
        'name: contains the control character U+000A at position 10 (control and bidirectional characters are refused)',
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

/** Names and attribute values a spreadsheet would run as formulas (OWASP CSV injection), and near misses. */
const FORMULA_TEXTS = [
  '=HYPERLINK("http://evil","x")',
  '+cmd|" /C calc"!A0',
  '-2+3+cmd|" /C calc"!A0',
  '@SUM(1+1)*cmd|" /C calc"!A0',
  "'=already quoted",
  "''+twice",
  "'plain apostrophe",
  '-5',
  '+84 276 3822 000',
];

describe('export', () => {
  const seeds = loadSeeds().devices.map((d, i) =>
    i % 3 === 0
      ? { ...d, state: 'suspended' as const, silenceTimeoutSeconds: 900 }
      : { ...d, state: 'active' as const },
  );
  // Formula-like names and attributes, and a device west and south of Greenwich (negative numbers).
  const tricky = FORMULA_TEXTS.map((text, i) => ({
    ...seeds[i]!,
    name: text,
    attributes: { ...seeds[i]!.attributes, note: text },
    ...(i === 0 ? { location: { lat: -33.5, lon: -70.25 } } : {}),
  }));
  const devices = [...tricky, ...seeds.slice(FORMULA_TEXTS.length)];

  it('CSV: what is exported parses back to the same devices, formula-like names included', () => {
    const csv = devicesToCsv(devices);
    expect(csv.startsWith('\uFEFFid,type,domain,name,areaId,lat,lon,state,silenceTimeoutSeconds')).toBe(true);
    const rows = parseDeviceCsv(csv);
    expect(rows.map((r) => ('device' in r ? r.device : r))).toEqual(devices);
  });

  it('CSV: no text cell starts a spreadsheet formula; numbers are written as they are', () => {
    const csv = devicesToCsv(tricky);
    const records = parse(csv.slice(1), { relax_column_count: false }) as string[][];
    const [header, ...data] = records;
    const name = header!.indexOf('name');
    const note = header!.indexOf('attr.note');
    const lat = header!.indexOf('lat');
    expect(data.map((r) => r[name])).toEqual([
      `'=HYPERLINK("http://evil","x")`,
      `'+cmd|" /C calc"!A0`,
      `'-2+3+cmd|" /C calc"!A0`,
      `'@SUM(1+1)*cmd|" /C calc"!A0`,
      "''=already quoted",
      "'''+twice",
      "'plain apostrophe",
      '-5',
      `'+84 276 3822 000`,
    ]);
    expect(data.map((r) => r[note])).toEqual(data.map((r) => r[name]));
    expect(data[0]![lat]).toBe('-33.5');
    expect(data[0]![header!.indexOf('lon')]).toBe('-70.25');
    for (const record of data) {
      for (const cell of record)
        expect({ cell, formula: /^[=+@\t\r]/.test(cell) }).toEqual({ cell, formula: false });
    }
  });

  it('neutraliseCsvCell and restoreCsvCell are exact inverses on text', () => {
    for (const text of [...FORMULA_TEXTS, '', "'", "'=", '=', '\t x', '\rx', 'Đèn', '1.5', '+1']) {
      expect(restoreCsvCell(neutraliseCsvCell(text))).toBe(text);
    }
    // A hand-written CSV with the spreadsheet convention reads as the text it shows.
    expect(restoreCsvCell("'=1+1")).toBe('=1+1');
    expect(restoreCsvCell("'abc")).toBe("'abc");
  });

  it('GeoJSON: [lon, lat] points whose features parse back to the same devices', () => {
    const geojson = devicesToGeoJson(seeds);
    const first = seeds[0]!;
    expect(geojson.features[0]?.geometry).toEqual({
      type: 'Point',
      coordinates: [first.location.lon, first.location.lat],
    });
    const rows = parseDeviceGeoJson(JSON.stringify(devicesToGeoJson(devices)));
    expect(rows.map((r) => ('device' in r ? r.device : r))).toEqual(devices);
    expect(parseDeviceGeoJson(JSON.stringify(geojson)).map((r) => ('device' in r ? r.device : r))).toEqual(
      seeds,
    );
  });
});

describe('bounds and control characters in import files', () => {
  const header = 'id,type,name,areaId,lat,lon,attr.x';

  it('refuses a row whose cell is over its limit (a 2 MB attribute), keeping the rows beside it', () => {
    const csv = [
      header,
      `sl-001,street-light,Đèn 1,ward-1,11.3,106.1,${'x'.repeat(2 * 1024 * 1024)}`,
      `sl-002,street-light,${'Đ'.repeat(MAX_NAME_LENGTH + 1)},ward-1,11.3,106.1,`,
      'sl-003,street-light,Đèn 3,ward-1,11.3,106.1,ok',
    ].join('\r\n');
    const rows = parseDeviceCsv(csv);
    expect(rows.map((r) => ('error' in r ? r.error : r.device.id))).toEqual([
      `attributes.x: must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`,
      `name: must be at most ${MAX_NAME_LENGTH} characters`,
      'sl-003',
    ]);
  });

  it('refuses control and bidirectional characters in a CSV row and in a GeoJSON feature', () => {
    const csv = [header, 'sl-001,street-light,"a\u0000b\u202e<script>",ward-1,11.3,106.1,'].join('\r\n');
    expect(parseDeviceCsv(csv)).toEqual([
      {
        row: 2,
        id: 'sl-001',
        error: expect.stringContaining('name: contains the control character U+0000 at position 2') as string,
      },
    ]);
    const geojson = JSON.stringify({
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [106.1, 11.3] },
          properties: {
            id: 'sl-002',
            type: 'street-light',
            name: 'Đèn',
            areaId: 'ward-1',
            'attr.road': 'x\u2067y',
          },
        },
      ],
    });
    expect(parseDeviceGeoJson(geojson)).toEqual([
      {
        row: 1,
        id: 'sl-002',
        error: expect.stringContaining(
          'attributes.road: contains the bidirectional control character U+2067',
        ) as string,
      },
    ]);
  });
});

describe('UTF-8 decoding of import files', () => {
  const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

  it('decodes UTF-8 (a byte-order mark kept for the parser to drop)', () => {
    expect(decodeImportFile(utf8('\uFEFFid,name\r\nx,Đèn'))).toBe('\uFEFFid,name\r\nx,Đèn');
    const rows = parseDeviceFile(
      'csv',
      utf8('\uFEFFid,type,name,areaId,lat,lon\r\nsl-1,street-light,Đèn,w-1,11,106'),
    );
    expect(rows[0]).toMatchObject({ row: 2, device: { name: 'Đèn' } });
  });

  it('refuses Latin-1 bytes with the byte offset and line of the first bad byte, instead of U+FFFD', () => {
    // "Café" saved as Latin-1 (é = 0xE9) after a UTF-8 "Đèn" on the line before.
    const before = 'id,type,name,areaId,lat,lon\nsl-1,street-light,Đèn,w-1,11,106\nsl-2,street-light,Caf';
    const bytes = new Uint8Array([...Buffer.from(before, 'utf8'), 0xe9, ...Buffer.from(',w-1,11,106\n')]);
    const offset = Buffer.byteLength(before, 'utf8');
    expect(() => parseDeviceFile('csv', bytes)).toThrow(ImportFileError);
    expect(() => parseDeviceFile('csv', bytes)).toThrow(
      `not UTF-8 (RFC 3629): byte 0xE9 at byte offset ${offset} (line 3) does not begin a valid UTF-8 sequence`,
    );
  });

  it.each([
    ['a lone continuation byte', [0x61, 0x80], 1],
    ['an overlong "/" (C0 AF)', [0x61, 0x62, 0xc0, 0xaf], 2],
    ['an overlong 3-byte form (E0 80 80)', [0xe0, 0x80, 0x80], 0],
    ['a UTF-16 surrogate (ED A0 80)', [0x61, 0xed, 0xa0, 0x80], 1],
    ['a code point above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80], 0],
    ['F5, never valid', [0x61, 0xf5], 1],
    ['a sequence cut short at the end', [0x61, 0xe1, 0xba], 1],
    ['a sequence cut short by ASCII', [0xe1, 0x61, 0x80], 0],
  ])('finds %s', (_what, bytes, offset) => {
    expect(invalidUtf8Offset(new Uint8Array(bytes))).toBe(offset);
    expect(() => decodeImportFile(new Uint8Array(bytes))).toThrow(`at byte offset ${offset} `);
  });

  it('finds nothing wrong in well-formed UTF-8 of every length', () => {
    expect(invalidUtf8Offset(utf8('aĐèn€𝄞\u{10ffff}\ud7ff\ue000'))).toBeUndefined();
  });
});

describe('conflicting GeoJSON properties', () => {
  const feature = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    type: 'Feature',
    geometry: { type: 'Point', coordinates: [106.11, 11.31] },
    properties: { id: 'sl-001', type: 'street-light', name: 'Đèn 1', areaId: 'ward-1', ...properties },
    ...extra,
  });
  const parseOne = (f: unknown) =>
    parseDeviceGeoJson(JSON.stringify({ type: 'FeatureCollection', features: [f] }))[0];

  it.each([
    [
      'properties.lat contradicting the geometry',
      feature({ lat: 11.5 }),
      "properties.lat 11.5 contradicts the geometry's latitude 11.31",
    ],
    [
      'properties.lon contradicting the geometry',
      feature({ lon: '106.2' }),
      'properties.lon "106.2" contradicts the geometry\'s longitude 106.11',
    ],
    [
      'a non-numeric properties.lat',
      feature({ lat: 'north' }),
      'properties.lat "north" contradicts the geometry\'s latitude 11.31',
    ],
    [
      'a feature id other than properties.id',
      feature({}, { id: 'sl-999' }),
      'feature id "sl-999" differs from properties.id "sl-001"',
    ],
    [
      'an attribute given as attributes.x and attr.x',
      feature({ attributes: { road: 'A' }, 'attr.road': 'B' }),
      'attribute "road" is given twice, as attributes.road and as attr.road: give it once',
    ],
    [
      'an attribute given as attr.x and attributes.x (equal values)',
      feature({ 'attr.road': 'A', attributes: { road: 'A' } }),
      'attribute "road" is given twice, as attr.road and as attributes.road: give it once',
    ],
  ])('refuses %s', (_what, f, reason) => {
    expect(parseOne(f)).toEqual({ row: 1, id: 'sl-001', error: reason });
  });

  it('accepts lat/lon properties equal to the geometry and a feature id equal to properties.id', () => {
    expect(parseOne(feature({ lat: 11.31, lon: '106.11' }, { id: 'sl-001' }))).toMatchObject({
      row: 1,
      device: { id: 'sl-001', location: { lat: 11.31, lon: 106.11 } },
    });
    expect(parseOne(feature({ id: undefined }, { id: 'sl-002' }))).toMatchObject({
      device: { id: 'sl-002' },
    });
  });
});
