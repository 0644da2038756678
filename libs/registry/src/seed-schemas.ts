import { z } from 'zod';
import {
  DEVICE_ID_PATTERN,
  DEVICE_STATES,
  DEVICE_TYPES,
  DOMAINS,
  type DeviceType,
  isReservedClientId,
  RESERVED_CLIENT_ID_PREFIX,
  unsafeCharacterMessage,
} from '@ioc/contracts';

/**
 * Area ids are lowercase ASCII slugs so they are safe in URLs, topics and InfluxDB tags, and stay
 * readable without diacritics; names carry the proper Vietnamese spelling.
 */
export const AREA_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/*
 * Bounds of the registry's text fields, in characters (UTF-16 code units, as zod's `.max` counts).
 * Sized so that the largest valid device still fits the 64 KiB JSON body of `POST /api/v1/devices`
 * (JSON_BODY_LIMIT_BYTES in @ioc/ops-api) even when every character takes 3 bytes in UTF-8 (all of
 * Vietnamese does): 50 attributes × (64 + 256) × 3 B = 48,000 B, a name 600 B, the rest < 1 KB.
 * An import accepts nothing REST would refuse. The seeds' longest values, for scale: device name
 * 78, area name 24, area note 233, attribute name 13, attribute value 25, 4 attributes a device.
 */
/** Longest area id (also `parentId`, a device's `areaId`; the export filter's `area` has the same bound). */
export const MAX_AREA_ID_LENGTH = 128;
/** Longest device or area name. */
export const MAX_NAME_LENGTH = 200;
/** Longest area level (`province`, `ward`, …). */
export const MAX_AREA_LEVEL_LENGTH = 64;
/** Longest area note. */
export const MAX_AREA_NOTE_LENGTH = 1000;
/** Most attributes a device may have. */
export const MAX_DEVICE_ATTRIBUTES = 50;
/** Longest attribute name. */
export const MAX_ATTRIBUTE_NAME_LENGTH = 64;
/** Longest attribute value. */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 256;

/** A check refusing C0/C1 control and Unicode bidirectional characters (findUnsafeCharacter in @ioc/contracts). */
function refuseUnsafeCharacters(value: string, context: z.RefinementCtx): void {
  const message = unsafeCharacterMessage(value);
  if (message !== undefined) context.addIssue({ code: 'custom', message });
}

/** A registry text field: at most `max` characters, no control or bidirectional character. */
function registryText(max: number) {
  return z.string().max(max, `must be at most ${max} characters`).superRefine(refuseUnsafeCharacters);
}

/** A required name-like field: trimmed, not empty, at most `max` characters, no control character. */
function registryLabel(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max, `must be at most ${max} characters`)
    .superRefine(refuseUnsafeCharacters);
}

const geoPoint = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

/** An area id another entity refers to (a parent, a device's area): bounded, no control character. */
const areaReference = registryText(MAX_AREA_ID_LENGTH).min(1);

// Strict objects: a misspelt field in a hand-edited seed file is an error, not silently ignored.
export const areaSchema = z.strictObject({
  id: z
    .string()
    .max(MAX_AREA_ID_LENGTH, `must be at most ${MAX_AREA_ID_LENGTH} characters`)
    .regex(AREA_ID_PATTERN, 'must be a lowercase ASCII slug (a-z, 0-9, single dashes)'),
  name: registryLabel(MAX_NAME_LENGTH),
  level: registryLabel(MAX_AREA_LEVEL_LENGTH),
  parentId: areaReference.nullable(),
  location: geoPoint.optional(),
  note: registryText(MAX_AREA_NOTE_LENGTH).optional(),
});

/**
 * An attribute name: a letter or digit (of any script: `đường` is a name), then letters, digits,
 * combining marks (Vietnamese typed in decomposed form), `_`, `-` or `.`; at most
 * MAX_ATTRIBUTE_NAME_LENGTH (64) characters (UTF-16 code units) in all. Safe as a CSV column
 * (`attr.<name>`), a GeoJSON property, a JSON key and a URL or InfluxDB tag word: no space, no
 * control or bidirectional character, and no `__proto__` (JSON.parse keeps such a key, but an
 * object assignment drops it silently) or any other name starting with `_`. Names such as
 * `constructor` are valid: code reads attributes with Object.hasOwn, never a bare `obj[name]`.
 */
export const ATTRIBUTE_NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}_.-]*$/u;

/**
 * Why an attribute name is refused (`attribute name "x y" must …`), or undefined when it matches
 * ATTRIBUTE_NAME_PATTERN. The name is quoted, cut to 64 characters.
 */
export function attributeNameProblem(name: string): string | undefined {
  const shown = JSON.stringify(name.slice(0, 64)) + (name.length > 64 ? '…' : '');
  if (name.length > MAX_ATTRIBUTE_NAME_LENGTH) {
    return `attribute name ${shown} must be at most ${MAX_ATTRIBUTE_NAME_LENGTH} characters`;
  }
  if (ATTRIBUTE_NAME_PATTERN.test(name)) return undefined;
  return `attribute name ${shown} must be letters, digits, _, - or . (1 to ${MAX_ATTRIBUTE_NAME_LENGTH}), starting with a letter or digit`;
}

/**
 * A device's attributes: at most MAX_DEVICE_ATTRIBUTES, names matching ATTRIBUTE_NAME_PATTERN,
 * values of at most MAX_ATTRIBUTE_VALUE_LENGTH characters without a control or bidirectional
 * character. A refusal's path is the attribute (`attributes.road`), or `attributes` for the count
 * and for a bad name (attributeNameProblem). Names are checked on the input as given: zod's record
 * drops a `__proto__` key without a word, so it is looked for before.
 */
export const deviceAttributesSchema = z.preprocess(
  (input, context) => {
    if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
      for (const name of Object.keys(input)) {
        const problem = attributeNameProblem(name);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem, input });
      }
    }
    return input;
  },
  z.record(z.string(), z.string()).superRefine((attributes, context) => {
    const names = Object.keys(attributes);
    if (names.length > MAX_DEVICE_ATTRIBUTES) {
      context.addIssue({
        code: 'custom',
        message: `${names.length} attributes: at most ${MAX_DEVICE_ATTRIBUTES}`,
      });
      return;
    }
    for (const [name, value] of Object.entries(attributes)) {
      const badValue =
        value.length > MAX_ATTRIBUTE_VALUE_LENGTH
          ? `must be at most ${MAX_ATTRIBUTE_VALUE_LENGTH} characters`
          : unsafeCharacterMessage(value);
      if (badValue !== undefined) context.addIssue({ code: 'custom', message: badValue, path: [name] });
    }
  }),
);

/**
 * Ids no device may take: they are path words of the REST API under `/api/v1/devices/`
 * (`GET …/status`, `…/export`, `POST …/import`), which a device of that id would be hidden behind.
 */
export const RESERVED_DEVICE_IDS: readonly string[] = ['status', 'export', 'import'];

export const deviceSchema = z.strictObject({
  id: z
    .string()
    .regex(DEVICE_ID_PATTERN, `must match ${String(DEVICE_ID_PATTERN)}`)
    .refine((id) => !RESERVED_DEVICE_IDS.includes(id.toLowerCase()), {
      message: `is reserved (${RESERVED_DEVICE_IDS.join(', ')} are paths of the REST API)`,
    })
    // A device's id is its MQTT username: `ioc-…` names (the internal username, the API's client
    // ids) belong to platform services (RESERVED_CLIENT_ID_PREFIX in @ioc/contracts).
    .refine((id) => !isReservedClientId(id), {
      message: `is reserved (ids starting with "${RESERVED_CLIENT_ID_PREFIX}", in any case, belong to platform services)`,
    }),
  type: z.enum(DEVICE_TYPES as [DeviceType, ...DeviceType[]]),
  domain: z.enum(DOMAINS),
  name: registryLabel(MAX_NAME_LENGTH),
  areaId: areaReference,
  location: geoPoint,
  attributes: deviceAttributesSchema.optional(),
  state: z.enum(DEVICE_STATES).optional(),
  /** Seconds; a day at most: a device silent for longer is simply offline. */
  silenceTimeoutSeconds: z.number().int().min(10).max(86_400).optional(),
});
