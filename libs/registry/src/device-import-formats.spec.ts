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
  PLAIN_DECIMAL,
  plainDecimal,
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
      fields: { silenceTimeoutSeconds: true, attributes: ['road'] },
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
      {
        row: 6,
        id: 'sl-003',
        error:
          'column lat: "abc" is not a plain decimal number (an optional sign, digits, an optional fraction)',
      },
      { row: 7, id: 'sl-004', error: 'unknown device type "toaster"' },
      { row: 8, id: 'sl-005', error: expect.stringMatching(/^location\.lat: /) as string },
      { row: 9, id: 'sl-006', error: 'empty cell in column name' },
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
        fields: { silenceTimeoutSeconds: false, attributes: ['road'] },
      },
      {
        row: 2,
        device: expect.objectContaining({
          id: 'sl-002',
          attributes: { road: 'Đường 2' },
          silenceTimeoutSeconds: 120,
        }) as Device,
        fields: { silenceTimeoutSeconds: true, attributes: ['road'] },
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

describe('attribute names that are Object.prototype members or unsafe', () => {
  const base = {
    type: 'street-light',
    domain: 'lighting',
    areaId: 'ward-1',
    location: { lat: 11.3, lon: 106.1 },
    state: 'active',
  };

  it.each(['constructor', 'toString', 'valueOf', 'hasOwnProperty'])(
    'CSV export of a device with the attribute %s beside one without it: empty cell, and it imports back',
    (name) => {
      const devices: Device[] = [
        { ...base, id: 'sl-001', name: 'Đèn 1', attributes: { [name]: 'x' } } as Device,
        { ...base, id: 'sl-002', name: 'Đèn 2', attributes: { road: 'Đường 1' } } as Device,
      ];
      const csv = devicesToCsv(devices);
      const [header, , second] = parse(csv.slice(1)) as string[][];
      expect(second![header!.indexOf(`attr.${name}`)]).toBe('');
      expect(parseDeviceCsv(csv).map((r) => ('device' in r ? r.device : r))).toEqual(devices);
      expect(
        parseDeviceGeoJson(JSON.stringify(devicesToGeoJson(devices))).map((r) =>
          'device' in r ? r.device : r,
        ),
      ).toEqual(devices);
    },
  );

  it('refuses an attribute __proto__ (or another unsafe name) per row, naming the field, in CSV and GeoJSON', () => {
    const reason =
      /^attributes: attribute name "__proto__" must be letters, digits, _, - or \. \(1 to 64\), starting with a letter or digit$/;
    const csv = parseDeviceCsv(
      [
        'id,type,name,areaId,lat,lon,attr.__proto__',
        'sl-001,street-light,Đèn,ward-1,11.3,106.1,x',
        'sl-002,street-light,Đèn,ward-1,11.3,106.1,',
      ].join('\n'),
    );
    expect(csv[0]).toEqual({ row: 2, id: 'sl-001', error: expect.stringMatching(reason) as string });
    // An empty cell removes the attribute: the name is given all the same, and refused.
    expect(csv[1]).toEqual({ row: 3, id: 'sl-002', error: expect.stringMatching(reason) as string });
    const feature = (id: string, properties: string) =>
      `{"type":"Feature","geometry":{"type":"Point","coordinates":[106.1,11.3]},"properties":{"id":"${id}","type":"street-light","name":"Đèn","areaId":"ward-1",${properties}}}`;
    const geojson = parseDeviceGeoJson(
      `{"type":"FeatureCollection","features":[${feature('sl-003', '"attr.__proto__":"x"')},${feature('sl-004', '"attributes":{"__proto__":"x"}')},${feature('sl-005', '"attr.lamp watts":"150"')},${feature('sl-006', '"attr.constructor":"ok"')}]}`,
    );
    expect(geojson.slice(0, 2)).toEqual([
      { row: 1, id: 'sl-003', error: expect.stringMatching(reason) as string },
      { row: 2, id: 'sl-004', error: expect.stringMatching(reason) as string },
    ]);
    expect(geojson[2]).toEqual({
      row: 3,
      id: 'sl-005',
      error: expect.stringContaining('attribute name "lamp watts" must be') as string,
    });
    expect(geojson[3]).toMatchObject({ row: 4, device: { attributes: { constructor: 'ok' } } });
  });
});

describe('absent and empty fields', () => {
  it('CSV: an absent optional column is not given; an empty cell is given empty', () => {
    const [absent, empty, set] = parseDeviceCsv(
      ['id,type,name,areaId,lat,lon', 'sl-001,street-light,Đèn,ward-1,11.3,106.1'].join('\n'),
    ).concat(
      parseDeviceCsv(
        [
          'id,type,name,areaId,lat,lon,silenceTimeoutSeconds,attr.road,attr.lanes,state',
          'sl-002,street-light,Đèn,ward-1,11.3,106.1,,,2,',
          'sl-003,street-light,Đèn,ward-1,11.3,106.1,600,Đường 1,,suspended',
        ].join('\n'),
      ),
    );
    expect(absent).toMatchObject({ fields: { silenceTimeoutSeconds: false, attributes: [] } });
    expect(empty).toEqual({
      row: 2,
      device: {
        id: 'sl-002',
        type: 'street-light',
        domain: 'lighting',
        name: 'Đèn',
        areaId: 'ward-1',
        location: { lat: 11.3, lon: 106.1 },
        attributes: { lanes: '2' },
      },
      fields: { silenceTimeoutSeconds: true, attributes: ['road', 'lanes'] },
    });
    expect(set).toMatchObject({
      device: { silenceTimeoutSeconds: 600, attributes: { road: 'Đường 1' }, state: 'suspended' },
      fields: { silenceTimeoutSeconds: true, attributes: ['road', 'lanes'] },
    });
  });

  it('GeoJSON: an absent property is not given; null (or "") is given empty; "attributes": null clears them all', () => {
    const feature = (properties: Record<string, unknown>) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [106.1, 11.3] },
      properties: { id: 'sl-001', type: 'street-light', name: 'Đèn', areaId: 'ward-1', ...properties },
    });
    const rows = parseDeviceGeoJson(
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          feature({}),
          feature({ silenceTimeoutSeconds: null, 'attr.road': null, attributes: { lanes: '' }, state: null }),
          feature({ attributes: null, 'attr.road': 'Đường 2' }),
          feature({ name: null }),
        ],
      }),
    );
    expect(rows[0]).toMatchObject({ fields: { silenceTimeoutSeconds: false, attributes: [] } });
    expect(rows[1]).toMatchObject({ fields: { silenceTimeoutSeconds: true, attributes: ['road', 'lanes'] } });
    expect(rows[1] && 'device' in rows[1] ? rows[1].device : undefined).not.toHaveProperty('attributes');
    expect(rows[2]).toMatchObject({
      device: { attributes: { road: 'Đường 2' } },
      fields: { attributes: ['road'], replaceAttributes: true },
    });
    expect(rows[3]).toEqual({ row: 4, id: 'sl-001', error: 'empty property name (null or "")' });
  });

  it('CSV: empty required cells are named as empty cells, not missing columns', () => {
    const [row] = parseDeviceCsv(
      ['id,type,name,areaId,lat,lon', 'sl-001,street-light,Đèn,ward-1,,'].join('\n'),
    );
    expect(row).toEqual({ row: 2, id: 'sl-001', error: 'empty cells in columns lat, lon' });
  });
});

describe('numbers in import files', () => {
  const csvRow = (lat: string, lon: string, timeout: string) =>
    parseDeviceCsv(
      [
        'id,type,name,areaId,lat,lon,silenceTimeoutSeconds',
        `sl-001,street-light,Đèn,ward-1,${lat},${lon},${timeout}`,
      ].join('\n'),
    )[0];

  it.each([
    ['lat', '0x10', ['0x10', '106.1', '600']],
    ['lat', '0b11', ['0b11', '106.1', '600']],
    ['lon', '1e1', ['11.3', '1e1', '600']],
    ['lon', ' 106.1', ['11.3', ' 106.1', '600']],
    ['lat', '11.3 ', ['11.3 ', '106.1', '600']],
    ['silenceTimeoutSeconds', '0x258', ['11.3', '106.1', '0x258']],
    ['silenceTimeoutSeconds', '6e2', ['11.3', '106.1', '6e2']],
    ['lat', 'Infinity', ['Infinity', '106.1', '600']],
    ['lat', '.5', ['.5', '106.1', '600']],
    ['lat', '5.', ['5.', '106.1', '600']],
  ])('refuses %s %j, naming the column and the value', (column, value, cells) => {
    expect(csvRow(...(cells as [string, string, string]))).toEqual({
      row: 2,
      id: 'sl-001',
      error: `column ${column}: ${JSON.stringify(value)} is not a plain decimal number (an optional sign, digits, an optional fraction)`,
    });
  });

  it('accepts plain decimals with a sign and a fraction', () => {
    expect(csvRow('-11.25', '+106', '600')).toMatchObject({
      device: { location: { lat: -11.25, lon: 106 }, silenceTimeoutSeconds: 600 },
    });
  });

  it('GeoJSON: a silence timeout or a lat property given as text must be a plain decimal too', () => {
    const rows = parseDeviceGeoJson(
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            geometry: { type: 'Point', coordinates: [106.1, 16] },
            properties: {
              id: 'sl-001',
              type: 'street-light',
              name: 'Đèn',
              areaId: 'ward-1',
              silenceTimeoutSeconds: '0x258',
            },
          },
          {
            type: 'Feature',
            geometry: { type: 'Point', coordinates: [106.1, 16] },
            properties: { id: 'sl-002', type: 'street-light', name: 'Đèn', areaId: 'ward-1', lat: '0x10' },
          },
        ],
      }),
    );
    expect(rows.map((r) => ('error' in r ? r.error : r))).toEqual([
      'property silenceTimeoutSeconds: "0x258" is not a plain decimal number (an optional sign, digits, an optional fraction)',
      'properties.lat "0x10" contradicts the geometry\'s latitude 16',
    ]);
  });

  it('the export writes plain decimals even where String() would write an exponent, and they read back exactly', () => {
    for (const value of [1e-7, -1.5e-7, 1.2345678e-10, 0, -0.5, 106.123456789, 1e21, 5e-324]) {
      const text = plainDecimal(value);
      expect({ value, plain: PLAIN_DECIMAL.test(text) }).toEqual({ value, plain: true });
      expect(Number(text)).toBe(value === 0 ? 0 : value);
    }
    const device = {
      id: 'sl-001',
      type: 'street-light',
      domain: 'lighting',
      name: 'Đèn',
      areaId: 'ward-1',
      location: { lat: 1e-7, lon: -2.5e-8 },
      state: 'active',
    } as Device;
    expect(parseDeviceCsv(devicesToCsv([device])).map((r) => ('device' in r ? r.device : r))).toEqual([
      device,
    ]);
  });
});

describe('cells are not trimmed', () => {
  it('an attribute with leading or trailing spaces round-trips through CSV and GeoJSON; names are trimmed as in REST', () => {
    const device = {
      id: 'sl-001',
      type: 'street-light',
      domain: 'lighting',
      name: 'Đèn 1',
      areaId: 'ward-1',
      location: { lat: 11.3, lon: 106.1 },
      state: 'active',
      attributes: { formula: ' =1', trailing: 'Đường 1  ', both: '  x  ', spaces: '   ' },
    } as Device;
    const csv = devicesToCsv([device]);
    expect(parseDeviceCsv(csv).map((r) => ('device' in r ? r.device : r))).toEqual([device]);
    expect(
      parseDeviceGeoJson(JSON.stringify(devicesToGeoJson([device]))).map((r) =>
        'device' in r ? r.device : r,
      ),
    ).toEqual([device]);
    // A hand-written name with spaces around it is trimmed by the schema, as REST does.
    const [row] = parseDeviceCsv(
      ['id,type,name,areaId,lat,lon', 'sl-002,street-light,  Đèn 2 ,ward-1,11.3,106.1'].join('\n'),
    );
    expect(row).toMatchObject({ device: { name: 'Đèn 2' } });
  });
});
