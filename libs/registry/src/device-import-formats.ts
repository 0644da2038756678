import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { type Device, domainOf, isDeviceType } from '@ioc/contracts';
import type { ImportRow } from './registry-repository';
import { deviceSchema } from './seed-schemas';

/**
 * Bulk import and export of devices as CSV and GeoJSON.
 *
 * CSV (RFC 4180, UTF-8, a byte-order mark tolerated): a header row naming the columns, in any
 * order — `id`, `type`, `name`, `areaId`, `lat`, `lon` (WGS 84 degrees) required; `domain`
 * (derived from the type when absent or empty), `state` (`active`|`suspended`|`retired`) and
 * `silenceTimeoutSeconds` optional; each `attr.<name>` column an attribute (an empty cell: no such
 * attribute). GeoJSON (RFC 7946): a FeatureCollection of Point features, coordinates
 * `[lon, lat]` (§3.1.1 / §4), the other fields in `properties` (attributes as `attr.<name>`
 * properties or an `attributes` object).
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

/** Fields of one device as read from a row, before validation. */
type RawFields = Record<string, string | number | undefined>;

/** Strips one leading U+FEFF (a byte-order mark written by Excel's "CSV UTF-8"). */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

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
    const fields: RawFields = {};
    columns.forEach((column, i) => {
      const value = (record[i] as string).trim();
      if (value !== '') fields[column] = value;
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

/** Parses an import file of the given format (see parseDeviceCsv / parseDeviceGeoJson). */
export function parseDeviceFile(format: DeviceFileFormat, text: string): ImportRow[] {
  return format === 'csv' ? parseDeviceCsv(text) : parseDeviceGeoJson(text);
}

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
  const fields: RawFields = { lon: coordinates[0] as number, lat: coordinates[1] as number };
  for (const [key, value] of Object.entries(props)) {
    if (key === 'attributes' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== 'string') return fail(`attribute "${name.slice(0, 64)}" must be a string`);
        if (text !== '') fields[`${ATTRIBUTE_COLUMN_PREFIX}${name}`] = text;
      }
      continue;
    }
    if (value === null || value === undefined || value === '') continue;
    if (key === 'lat' || key === 'lon') continue; // the geometry is the location
    if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
    else return fail(`property "${key.slice(0, 64)}" must be a string or a number`);
  }
  if (id !== undefined) fields['id'] = id;
  return toImportRow(row, fields, 'property');
}

/** Builds and validates a device from a row's fields; `what` names the field kind in reasons. */
function toImportRow(row: number, fields: RawFields, what: 'column' | 'property'): ImportRow {
  const id = typeof fields['id'] === 'string' ? fields['id'] : undefined;
  const fail = (error: string): ImportRow => ({ row, error, ...(id ? { id } : {}) });
  const missing = REQUIRED_CSV_COLUMNS.filter((name) => fields[name] === undefined);
  if (missing.length > 0) {
    return fail(`missing ${what}${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  const numbers: Record<string, number> = {};
  for (const name of ['lat', 'lon', 'silenceTimeoutSeconds']) {
    const value = fields[name];
    if (value === undefined) continue;
    const number = typeof value === 'number' ? value : Number(value);
    if (typeof value === 'string' && (value.trim() === '' || !Number.isFinite(number))) {
      return fail(`${what} ${name}: "${value.slice(0, 32)}" is not a number`);
    }
    numbers[name] = number;
  }
  const type = String(fields['type']);
  if (!isDeviceType(type)) return fail(`unknown device type "${type.slice(0, 64)}"`);
  const attributes: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (name.startsWith(ATTRIBUTE_COLUMN_PREFIX))
      attributes[name.slice(ATTRIBUTE_COLUMN_PREFIX.length)] = String(value);
    else if (!(DEVICE_CSV_COLUMNS as readonly string[]).includes(name)) unknown.push(name);
  }
  if (unknown.length > 0)
    return fail(`unknown ${what} ${unknown.map((n) => `"${n.slice(0, 64)}"`).join(', ')}`);
  const candidate = {
    id: String(fields['id']),
    type,
    domain: fields['domain'] === undefined ? domainOf(type) : String(fields['domain']),
    name: String(fields['name']),
    areaId: String(fields['areaId']),
    location: { lat: numbers['lat'], lon: numbers['lon'] },
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    ...(fields['state'] === undefined ? {} : { state: String(fields['state']) }),
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
  return { row, device: parsed.data as Device };
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
 * changes nothing. QGIS opens it as a delimited-text layer with X = lon, Y = lat.
 */
export function devicesToCsv(devices: readonly Device[]): string {
  const attributes = attributeNames(devices);
  const header = [...DEVICE_CSV_COLUMNS, ...attributes.map((name) => `${ATTRIBUTE_COLUMN_PREFIX}${name}`)];
  const rows = devices.map((d) => [
    d.id,
    d.type,
    d.domain,
    d.name,
    d.areaId,
    String(d.location.lat),
    String(d.location.lon),
    d.state ?? 'active',
    d.silenceTimeoutSeconds === undefined ? '' : String(d.silenceTimeoutSeconds),
    ...attributes.map((name) => d.attributes?.[name] ?? ''),
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
