import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { z } from 'zod';

/** `format` of every manifest this library writes. */
export const BACKUP_FORMAT = 'ioc-backup';
/** Version of the backup layout; restore refuses a manifest of another version. */
export const BACKUP_FORMAT_VERSION = 1;
/** The manifest's file name in a backup directory. */
export const MANIFEST_FILE = 'manifest.json';

/** What a file in a backup holds. */
export const BACKUP_FILE_ROLES = ['registry', 'timeseries', 'key'] as const;
export type BackupFileRole = (typeof BACKUP_FILE_ROLES)[number];

const fileSchema = z.object({
  /** Relative to the backup directory, `/`-separated. */
  path: z.string().regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._/-]+$/, 'a relative path without ..'),
  role: z.enum(BACKUP_FILE_ROLES),
  /** Size in bytes. */
  bytes: z.number().int().min(0),
  /** SHA-256 of the content, lowercase hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** InfluxDB export files: the retention policy and measurement the lines belong to. */
  retentionPolicy: z.string().optional(),
  measurement: z.string().optional(),
});
export type BackupFile = z.infer<typeof fileSchema>;

/**
 * The manifest (`manifest.json`) of a backup directory: what was backed up, from what, when, and
 * what `verify` checks — every file's size and SHA-256, and counts that a restore must reproduce.
 */
export const backupManifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  formatVersion: z.number().int(),
  platform: z.object({ version: z.string(), commit: z.string().optional() }),
  /** ISO-8601: when the backup began, and when its last file was written. */
  createdAt: z.string(),
  finishedAt: z.string(),
  source: z.object({
    registry: z.enum(['sqlite', 'postgres']),
    timeseries: z.enum(['embedded', 'influxdb']),
    /** InfluxDB sources: the database, its raw retention policy (undefined: the default) and who kept rollups. */
    influx: z
      .object({
        database: z.string(),
        retentionPolicy: z.string().optional(),
        rollups: z.enum(['managed', 'external', 'none']),
      })
      .optional(),
  }),
  files: z.array(fileSchema),
  counts: z.object({
    devices: z.number().int(),
    rules: z.number().int(),
    alerts: z.number().int(),
    auditEntries: z.number().int(),
    /** The audit chain's last entry in the backup; restore checks the restored chain ends there. */
    auditHead: z.object({ seq: z.number().int(), hash: z.string() }).optional(),
    /**
     * Points per measurement: embedded — rows of `points`, `rollup_1m`, `rollup_1h`; InfluxDB —
     * lines exported per `<retention policy>.<measurement>`.
     */
    points: z.record(z.string(), z.number().int()),
  }),
  /** What the backup deliberately does not hold (for the operator reading it). */
  notIncluded: z.array(z.string()),
});
export type BackupManifest = z.infer<typeof backupManifestSchema>;

/** A backup that cannot be used: named problem, nothing restored. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/** SHA-256 (lowercase hex) and size of a file, streamed (a backup file may be many gigabytes). */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Reads and checks the shape of `manifest.json`.
 * @throws BackupError when it is missing, not JSON, of another format or version
 */
export function readManifest(path: string): BackupManifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new BackupError(`no backup manifest at ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BackupError(`${path} is not JSON: ${(error as Error).message}`);
  }
  const format = (json as { format?: unknown; formatVersion?: unknown } | null) ?? {};
  if (format.format !== BACKUP_FORMAT) throw new BackupError(`${path} is not an ${BACKUP_FORMAT} manifest`);
  if (format.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupError(
      `${path}: backup format version ${String(format.formatVersion)}, this platform reads version ${BACKUP_FORMAT_VERSION}`,
    );
  }
  const parsed = backupManifestSchema.safeParse(json);
  if (!parsed.success) throw new BackupError(`${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
