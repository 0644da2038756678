import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { type Device, domainOf, isDeviceType } from '@ioc/contracts';
import type { ImportRow, ImportRowFields } from './registry-repository';
import { attributeNameProblem, deviceSchema } from './seed-schemas';

/**
 * Bulk import and export of devices as CSV and GeoJSON.
 *
 * CSV (RFC 4180, UTF-8, a byte-order mark tolerated): a header row naming the columns, in any
 * order — `id`, `type`, `name`, `areaId`, `lat`, `lon` (WGS 84 degrees) required; `domain`
 * (derived from the type when absent or empty), `state` (`active`|`suspended`|`retired`) and
 * `silenceTimeoutSeconds` optional; each `attr.<name>` column an attribute (names:
 * ATTRIBUTE_NAME_PATTERN). GeoJSON (RFC 7946): a FeatureCollection of Point features, coordinates
 * `[lon, lat]` (§3.1.1 / §4), the other fields in `properties` (attributes as `attr.<name>`
 * properties or an `attributes` object).
 *
 * Updating a registered device, a row changes only what it gives (ImportRowFields): an optional
 * field ABSENT from the file (no such column; no such property) keeps its stored value; one given
 * empty (an empty CSV cell; a GeoJSON `null` or `""`) is cleared. Attributes merge name by name: an
 * `attr.x` column sets `x`, or removes it when empty; stored attributes the file does not name are
 * kept (GeoJSON `"attributes": null` removes them all). `state` and `domain` cannot be cleared: empty
 * keeps the stored state (a new device is `active`) and derives the domain from the type.
 *
 * Cell values are taken as they are, never trimmed (as REST takes JSON strings): an attribute
 * `" =1"` stays `" =1"`, so the export imports back unchanged. Names are trimmed by the device
 * schema in both paths; a space around an id, type, area id or state is refused as in REST.
 * Numbers (`lat`, `lon`, `silenceTimeoutSeconds` in a CSV, or given as text in GeoJSON) are plain
 * decimals (PLAIN_DECIMAL: an optional sign, digits, an optional fraction), nothing else.
 *
 * Files are read as UTF-8 (decodeImportFile: invalid UTF-8 is refused with its byte offset, never
 * replaced by U+FFFD). CSV text cells that a spreadsheet would run as a formula are written with a
 * leading `'` and read back without it (neutraliseCsvCell / restoreCsvCell).
 *
 * Parsing yields one ImportRow per data row — the device, or the specific reason its row is
 * unusable — so a bad row never hides a good one; a file that cannot be read at all throws an
 * ImportFileError (REST answers 400).
 */

/** Most rows one import file may hold (each import is one transaction). */
export const MAX_IMPORT_ROWS = 50_000;

/** Formats the registry imports and exports. */
export const DEVICE_FILE_FORMATS = ['csv', 'geojson'] as const;
export type DeviceFileFormat = (typeof DEVICE_FILE_FORMATS)[number];

/** CSV columns other than attributes, in export order. */
export const DEVICE_CSV_COLUMNS = [
  'id',
  'type',
  'domain',
  'name',
  'areaId',
  'lat',
  'lon',
  'state',
  'silenceTimeoutSeconds',
] as const;
const REQUIRED_CSV_COLUMNS = ['id', 'type', 'name', 'areaId', 'lat', 'lon'] as const;
/** Prefix of a CSV column (or GeoJSON property) holding one attribute. */
export const ATTRIBUTE_COLUMN_PREFIX = 'attr.';

/** A file that cannot be imported at all (not CSV, no usable header, not a FeatureCollection, too many rows). */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportFileError';
  }
}

/**
 * Fields of one device as read from a row, before validation: a field absent from the row has no
 * key; one given empty is null. Always a null-prototype object (rawFields), so a key such as
 * `constructor` or `__proto__` is an own property and never Object.prototype's.
 */
type RawFields = Record<string, string | number | null>;

function rawFields(): RawFields {
  return Object.create(null) as RawFields;
}

/**
 * A number as the import reads it from text: an optional sign, decimal digits and an optional
 * fraction (`-12.5`, `+7`, `600`). No spaces, exponents (`1e1`), hex (`0x10`), binary (`0b11`),
 * `Infinity` or empty text, all of which JavaScript's Number() would take.
 */
export const PLAIN_DECIMAL = /^[+-]?\d+(?:\.\d+)?$/;

/**
 * A finite number as plain decimal text that PLAIN_DECIMAL accepts and Number() reads back exactly
 * (String() would write `1e-7` for a coordinate 1 cm from the equator).
 */
export function plainDecimal(value: number): string {
  const text = String(value);
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (match === null) return text;
  const [, sign, whole, fraction = '', exponentText] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const digits = whole + fraction;
  const point = whole.length + Number(exponentText);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Strips one leading U+FEFF (a byte-order mark written by Excel's "CSV UTF-8"). */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Byte offset (from 0) of the first byte that does not begin a well-formed UTF-8 sequence
 * (RFC 3629 §4: no overlong forms, no surrogates U+D800–U+DFFF, nothing above U+10FFFF), or
 * undefined when every byte is well formed. A sequence cut short counts at its first byte.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number | undefined {
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i] as number;
    if (b0 < 0x80) {
      i++;
      continue;
    }
    // Length and the allowed range of the second byte (RFC 3629 §4 UTF8-2, UTF8-3, UTF8-4).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      length = 3;
      if (b0 === 0xe0) low = 0xa0;
      if (b0 === 0xed) high = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      length = 4;
      if (b0 === 0xf0) low = 0x90;
      if (b0 === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > bytes.length) return i;
    const b1 = bytes[i + 1] as number;
    if (b1 < low || b1 > high) return i;
    for (let k = 2; k < length; k++) {
      const b = bytes[i + k] as number;
      if (b < 0x80 || b > 0xbf) return i;
    }
    i += length;
  }
  return undefined;
}

/**
 * An import file's bytes as text: UTF-8, decoded strictly (a byte-order mark is kept for the
 * parsers to drop).
 * @throws ImportFileError naming the byte offset (from 0), its value and its line, when the bytes
 *   are not well-formed UTF-8 (a Latin-1 or Windows-1258 file, a binary file)
 */
export function decodeImportFile(bytes: Uint8Array): string {
  try {
    return UTF8_FATAL.decode(bytes);
  } catch {
    const offset = invalidUtf8Offset(bytes) ?? 0;
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    const value = (bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0');
    throw new ImportFileError(
      `not UTF-8 (RFC 3629): byte 0x${value} at byte offset ${offset} (line ${line}) does not begin a valid UTF-8 sequence; save the file as UTF-8 ("CSV UTF-8" in a spreadsheet program)`,
    );
  }
}

/**
 * First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"):
 * `=`, `+`, `-`, `@`, tab, carriage return. A cell starting with any of them, after any number of
 * `'`, is written with one more leading `'`; a cell that is exactly a decimal number (`-12.5`) is
 * no formula and is written as it is.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;
/** Leading `'` count that restoreCsvCell removes: one, before a formula start. */
const NEUTRALISED = /^'+[=+\-@\t\r]/;

/**
 * A CSV text cell made safe to open in a spreadsheet: a leading `'` (OWASP CSV injection
 * guidance) when it would start a formula; restoreCsvCell undoes it exactly.
 */
export function neutraliseCsvCell(value: string): string {
  return FORMULA_START.test(value) && !PLAIN_DECIMAL.test(value) ? `'${value}` : value;
}

/** A CSV text cell as it was before neutraliseCsvCell: one leading `'` before a formula start removed. */
export function restoreCsvCell(value: string): string {
  return NEUTRALISED.test(value) ? value.slice(1) : value;
}

/** CSV columns holding numbers: never neutralised nor restored. */
const NUMBER_COLUMNS: ReadonlySet<string> = new Set(['lat', 'lon', 'silenceTimeoutSeconds']);

/**
 * Parses a device CSV into rows, each numbered by the file's line it starts on (the header is
 * line 1).
 * @throws ImportFileError when the text is not CSV (an unclosed quote, …), has no header naming
 *   the required columns, names a column twice or an unknown one, or has more than MAX_IMPORT_ROWS rows
 */
export function parseDeviceCsv(text: string): ImportRow[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(withoutBom(text), {
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (error) {
    throw new ImportFileError(`not a readable CSV file: ${(error as Error).message}`);
  }
  const [header, ...data] = records;
  if (header === undefined) throw new ImportFileError('empty CSV file: expected a header row');
  const columns = header.record.map((name) => name.trim());
  const known = new Set<string>(DEVICE_CSV_COLUMNS);
  const problems: string[] = [];
  const missing = REQUIRED_CSV_COLUMNS.filter((column) => !columns.includes(column));
  if (missing.length > 0)
    problems.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column)) problems.push(`column "${column.slice(0, 64)}" appears twice`);
    seen.add(column);
    if (!known.has(column) && !(column.startsWith(ATTRIBUTE_COLUMN_PREFIX) && column.length > 5)) {
      problems.push(
        `unknown column "${column.slice(0, 64)}" (columns: ${DEVICE_CSV_COLUMNS.join(', ')}, attr.<name>)`,
      );
    }
  }
  if (problems.length > 0) throw new ImportFileError(`CSV header (line 1): ${problems.join('; ')}`);
  if (data.length > MAX_IMPORT_ROWS) {
    throw new ImportFileError(`${data.length} rows: at most ${MAX_IMPORT_ROWS} per import file`);
  }
  return data.map(({ record, info }) => {
    // info.lines is the line the record ends on; a quoted field may span lines.
    const newlines = record.reduce((n, field) => n + (field.match(/\n/g)?.length ?? 0), 0);
    const row = info.lines - newlines;
    if (record.length !== columns.length) {
      const id = record[columns.indexOf('id')]?.trim();
      return {
        row,
        error: `${record.length} fields where the header has ${columns.length}`,
        ...(id ? { id } : {}),
      };
    }
    // Cells are not trimmed (see the module's comment): a row means what REST's JSON would.
    const fields = rawFields();
    columns.forEach((column, i) => {
      const cell = record[i] as string;
      const value = NUMBER_COLUMNS.has(column) ? cell : restoreCsvCell(cell);
      fields[column] = value === '' ? null : value;
    });
    return toImportRow(row, fields, 'column');
  });
}

/**
 * Parses a GeoJSON FeatureCollection of Points into rows numbered by feature (index + 1).
 * @throws ImportFileError when the text is not JSON, not a FeatureCollection, or has more than MAX_IMPORT_ROWS features
 */
export function parseDeviceGeoJson(text: string): ImportRow[] {
  let document: unknown;
  try {
    document = JSON.parse(withoutBom(text));
  } catch (error) {
    throw new ImportFileError(`not JSON: ${(error as Error).message}`);
  }
  if (
    typeof document !== 'object' ||
    document === null ||
    (document as { type?: unknown }).type !== 'FeatureCollection' ||
    !Array.isArray((document as { features?: unknown }).features)
  ) {
    throw new ImportFileError(
      'not a GeoJSON FeatureCollection (RFC 7946 §3.3): expected "type": "FeatureCollection" and a "features" array',
    );
  }
  const features = (document as { features: unknown[] }).features;
  if (features.length > MAX_IMPORT_ROWS) {
    throw new ImportFileError(`${features.length} features: at most ${MAX_IMPORT_ROWS} per import file`);
  }
  return features.map((feature, index) => parseFeature(feature, index + 1));
}

/**
 * Parses an import file of the given format (see parseDeviceCsv / parseDeviceGeoJson); bytes are
 * decoded with decodeImportFile first.
 * @throws ImportFileError as those do, and for bytes that are not UTF-8
 */
export function parseDeviceFile(format: DeviceFileFormat, file: string | Uint8Array): ImportRow[] {
  const text = typeof file === 'string' ? file : decodeImportFile(file);
  return format === 'csv' ? parseDeviceCsv(text) : parseDeviceGeoJson(text);
}

/**
 * Largest difference between a feature's `lat`/`lon` properties and its geometry that is not a
 * contradiction: 1e-7 degrees, about 1.1 cm on the ground (a value rounded differently, not
 * another place).
 */
export const COORDINATE_TOLERANCE_DEGREES = 1e-7;

function parseFeature(feature: unknown, row: number): ImportRow {
  if (typeof feature !== 'object' || feature === null || (feature as { type?: unknown }).type !== 'Feature') {
    return { row, error: 'not a GeoJSON Feature' };
  }
  const {
    geometry,
    properties,
    id: featureId,
  } = feature as {
    geometry?: unknown;
    properties?: unknown;
    id?: unknown;
  };
  const props =
    typeof properties === 'object' && properties !== null && !Array.isArray(properties)
      ? (properties as Record<string, unknown>)
      : {};
  const idValue = props['id'] ?? featureId;
  const id = typeof idValue === 'string' && idValue !== '' ? idValue : undefined;
  const fail = (error: string): ImportRow => ({ row, error, ...(id ? { id } : {}) });
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    return fail('feature has no properties object');
  }
  // RFC 7946 §3.2: a feature's "id" is a string or a number; it must name the same device.
  if (
    featureId !== undefined &&
    featureId !== null &&
    props['id'] !== undefined &&
    props['id'] !== null &&
    String(featureId) !== String(props['id'])
  ) {
    return fail(
      `feature id ${JSON.stringify(String(featureId).slice(0, 64))} differs from properties.id ${JSON.stringify(String(props['id']).slice(0, 64))}`,
    );
  }
  const geometryType = (geometry as { type?: unknown } | null)?.type;
  if (geometryType !== 'Point') {
    return fail(
      `geometry is ${typeof geometryType === 'string' ? `a ${geometryType.slice(0, 32)}` : 'missing'}, not a Point`,
    );
  }
  const coordinates = (geometry as { coordinates?: unknown }).coordinates;
  if (
    !Array.isArray(coordinates) ||
    coordinates.length < 2 ||
    coordinates.length > 3 ||
    !coordinates.every((c) => typeof c === 'number' && Number.isFinite(c))
  ) {
    return fail('Point coordinates must be [lon, lat] (or [lon, lat, elevation]) numbers (RFC 7946 §3.1.2)');
  }
  const fields = rawFields();
  fields['lon'] = coordinates[0] as number;
  fields['lat'] = coordinates[1] as number;
  // The geometry is the location; lat/lon properties (a GIS layer's columns) must agree with it.
  for (const axis of ['lat', 'lon'] as const) {
    const given = props[axis];
    if (given === undefined || given === null || given === '') continue;
    const number =
      typeof given === 'number'
        ? given
        : typeof given === 'string' && PLAIN_DECIMAL.test(given)
          ? Number(given)
          : NaN;
    const geometryValue = fields[axis] as number;
    if (!Number.isFinite(number) || Math.abs(number - geometryValue) > COORDINATE_TOLERANCE_DEGREES) {
      return fail(
        `properties.${axis} ${JSON.stringify(typeof given === 'string' ? given.slice(0, 32) : given)} contradicts the geometry's ${axis === 'lat' ? 'latitude' : 'longitude'} ${geometryValue}`,
      );
    }
  }
  const attributeSources = new Map<string, string>();
  const setAttribute = (name: string, value: unknown, source: string): string | undefined => {
    const earlier = attributeSources.get(name);
    if (earlier !== undefined) {
      return `attribute "${name.slice(0, 64)}" is given twice, as ${earlier} and as ${source}: give it once`;
    }
    attributeSources.set(name, source);
    // null (or "") removes the attribute; the name is given either way.
    if (value === null || value === '') fields[`${ATTRIBUTE_COLUMN_PREFIX}${name}`] = null;
    else if (typeof value !== 'string') return `attribute "${name.slice(0, 64)}" must be a string`;
    else fields[`${ATTRIBUTE_COLUMN_PREFIX}${name}`] = value;
    return undefined;
  };
  let clearAttributes = false;
  for (const [key, value] of Object.entries(props)) {
    if (key === 'attributes' && value === null) {
      clearAttributes = true;
      continue;
    }
    if (key === 'attributes' && typeof value === 'object' && !Array.isArray(value)) {
      for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
        const problem = setAttribute(name, text, `attributes.${name.slice(0, 64)}`);
        if (problem !== undefined) return fail(problem);
      }
      continue;
    }
    if (value === undefined) continue;
    if (key === 'lat' || key === 'lon') continue; // checked against the geometry above
    if (key.startsWith(ATTRIBUTE_COLUMN_PREFIX) && key.length > ATTRIBUTE_COLUMN_PREFIX.length) {
      const name = key.slice(ATTRIBUTE_COLUMN_PREFIX.length);
      if (value !== null && typeof value !== 'string' && typeof value !== 'number') {
        return fail(`property "${key.slice(0, 64)}" must be a string or a number`);
      }
      const problem = setAttribute(name, value === null ? null : String(value), key.slice(0, 64));
      if (problem !== undefined) return fail(problem);
      continue;
    }
    if (value === null || value === '') fields[key] = null;
    else if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
    else return fail(`property "${key.slice(0, 64)}" must be a string or a number`);
  }
  if (id !== undefined) fields['id'] = id;
  return toImportRow(row, fields, 'property', clearAttributes);
}

/**
 * Builds and validates a device from a row's fields (a null-prototype RawFields); `what` names the
 * field kind in reasons. The row's ImportRowFields say which optional fields it gives.
 */
function toImportRow(
  row: number,
  fields: RawFields,
  what: 'column' | 'property',
  clearAttributes = false,
): ImportRow {
  const id = typeof fields['id'] === 'string' ? fields['id'] : undefined;
  const fail = (error: string): ImportRow => ({ row, error, ...(id ? { id } : {}) });
  const plural = (names: readonly string[], one: string, many: string) => (names.length > 1 ? many : one);
  const missing = REQUIRED_CSV_COLUMNS.filter((name) => !Object.hasOwn(fields, name));
  if (missing.length > 0) {
    return fail(`missing ${what}${plural(missing, '', 's')} ${missing.join(', ')}`);
  }
  const empty = REQUIRED_CSV_COLUMNS.filter((name) => fields[name] === null);
  if (empty.length > 0) {
    return fail(
      what === 'column'
        ? `empty ${plural(empty, 'cell in column', 'cells in columns')} ${empty.join(', ')}`
        : `empty ${plural(empty, 'property', 'properties')} ${empty.join(', ')} (null or "")`,
    );
  }
  const numbers: Record<string, number> = {};
  for (const name of ['lat', 'lon', 'silenceTimeoutSeconds']) {
    const value = fields[name];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' && !PLAIN_DECIMAL.test(value)) {
      return fail(
        `${what} ${name}: ${JSON.stringify(value.slice(0, 32))} is not a plain decimal number (an optional sign, digits, an optional fraction)`,
      );
    }
    numbers[name] = Number(value);
  }
  const type = String(fields['type']);
  if (!isDeviceType(type)) return fail(`unknown device type "${type.slice(0, 64)}"`);
  // Null prototype: an attribute `constructor` is an own property, and `__proto__` one the
  // schema sees and refuses (an ordinary object would drop it without a word).
  const attributes = Object.create(null) as Record<string, string>;
  const attributeNames: string[] = [];
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (name.startsWith(ATTRIBUTE_COLUMN_PREFIX)) {
      const attribute = name.slice(ATTRIBUTE_COLUMN_PREFIX.length);
      attributeNames.push(attribute);
      if (value !== null) attributes[attribute] = String(value);
    } else if (!(DEVICE_CSV_COLUMNS as readonly string[]).includes(name)) unknown.push(name);
  }
  if (unknown.length > 0)
    return fail(`unknown ${what} ${unknown.map((n) => `"${n.slice(0, 64)}"`).join(', ')}`);
  // Every name the row gives, set or (empty) removed, as the device schema words it.
  for (const name of attributeNames) {
    const problem = attributeNameProblem(name);
    if (problem !== undefined) return fail(`attributes: ${problem}`);
  }
  const domain = fields['domain'];
  const state = fields['state'];
  const candidate = {
    id: String(fields['id']),
    type,
    domain: domain === undefined || domain === null ? domainOf(type) : String(domain),
    name: String(fields['name']),
    areaId: String(fields['areaId']),
    location: { lat: numbers['lat'], lon: numbers['lon'] },
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    ...(state === undefined || state === null ? {} : { state: String(state) }),
    ...(numbers['silenceTimeoutSeconds'] === undefined
      ? {}
      : { silenceTimeoutSeconds: numbers['silenceTimeoutSeconds'] }),
  };
  const parsed = deviceSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : 'row';
    return fail(`${path}: ${issue?.message ?? 'invalid'}`);
  }
  const given: ImportRowFields = {
    silenceTimeoutSeconds: Object.hasOwn(fields, 'silenceTimeoutSeconds'),
    attributes: attributeNames,
    ...(clearAttributes ? { replaceAttributes: true } : {}),
  };
  return { row, device: parsed.data as Device, fields: given };
}

/** Attribute names used by any of the devices, sorted (the export's `attr.*` columns). */
function attributeNames(devices: readonly Device[]): string[] {
  const names = new Set<string>();
  for (const device of devices) for (const name of Object.keys(device.attributes ?? {})) names.add(name);
  return [...names].sort();
}

/**
 * The devices as CSV (RFC 4180, CRLF line ends, a UTF-8 byte-order mark so spreadsheet programs
 * read Vietnamese names right), with the header parseDeviceCsv reads: importing the export back
 * changes nothing. Text cells that would start a spreadsheet formula (`=`, `+`, `-`, `@`, tab, CR)
 * get a leading `'` (neutraliseCsvCell), which the import removes again. QGIS opens it as a delimited-text layer with X = lon, Y = lat.
 */
export function devicesToCsv(devices: readonly Device[]): string {
  const attributes = attributeNames(devices);
  const header = [...DEVICE_CSV_COLUMNS, ...attributes.map((name) => `${ATTRIBUTE_COLUMN_PREFIX}${name}`)];
  const text = neutraliseCsvCell;
  const rows = devices.map((d) => [
    text(d.id),
    text(d.type),
    text(d.domain),
    text(d.name),
    text(d.areaId),
    plainDecimal(d.location.lat),
    plainDecimal(d.location.lon),
    text(d.state ?? 'active'),
    d.silenceTimeoutSeconds === undefined ? '' : plainDecimal(d.silenceTimeoutSeconds),
    // Object.hasOwn: a bare d.attributes[name] finds Object.prototype's `constructor`, `toString`…
    ...attributes.map((name) =>
      text(
        d.attributes !== undefined && Object.hasOwn(d.attributes, name) ? (d.attributes[name] as string) : '',
      ),
    ),
  ]);
  return '\uFEFF' + stringify([header, ...rows], { record_delimiter: '\r\n' });
}

/** A GeoJSON FeatureCollection (RFC 7946). */
export interface DeviceFeatureCollection {
  type: 'FeatureCollection';
  features: Array<{
    type: 'Feature';
    id: string;
    geometry: { type: 'Point'; coordinates: [number, number] };
    properties: Record<string, string | number>;
  }>;
}

/**
 * The devices as a GeoJSON FeatureCollection of Points, `[lon, lat]` (RFC 7946 §3.1.1), with
 * flat properties (attributes as `attr.<name>`) so QGIS shows each as a column; importing it back
 * changes nothing.
 */
export function devicesToGeoJson(devices: readonly Device[]): DeviceFeatureCollection {
  return {
    type: 'FeatureCollection',
    features: devices.map((d) => ({
      type: 'Feature',
      id: d.id,
      geometry: { type: 'Point', coordinates: [d.location.lon, d.location.lat] },
      properties: {
        id: d.id,
        type: d.type,
        domain: d.domain,
        name: d.name,
        areaId: d.areaId,
        state: d.state ?? 'active',
        ...(d.silenceTimeoutSeconds === undefined ? {} : { silenceTimeoutSeconds: d.silenceTimeoutSeconds }),
        ...Object.fromEntries(
          Object.entries(d.attributes ?? {})
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([name, value]) => [`${ATTRIBUTE_COLUMN_PREFIX}${name}`, value]),
        ),
      },
    })),
  };
}
