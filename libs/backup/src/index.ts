// Backup and restore of a running platform's state (see README.md).
export * from './manifest';
export * from './backup';
export {
  DEFAULT_CHUNK_MS,
  type InfluxChunkMs,
  InfluxV1Client,
  influxExportTargets,
  measurementKey,
  RESTORE_BATCH_LINES,
  type InfluxExportTarget,
  type InfluxSource,
} from './influx-export';
export { copySqliteOnline } from './sqlite-copy';
export { postgresProgram, splitPassword } from './postgres-dump';
