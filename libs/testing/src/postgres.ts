import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port';
import { describeWithServer } from './server-suites';

/**
 * Starts a REAL PostgreSQL server (Debian's `postgresql` package) for integration tests: initdb
 * into a fresh temporary directory, then `postgres` on a free loopback port, with durability
 * settings off (fsync, synchronous_commit, full_page_writes) because the data is thrown away.
 * initdb and postgres refuse to run as root, so as root both run as the `postgres` user (spawn's
 * uid/gid), which owns the directory.
 */

export const POSTGRES_MISSING_MESSAGE =
  'PostgreSQL server binaries not found: install them (Debian: apt-get install -y postgresql) to run these tests';

const START_TIMEOUT_MS = 30_000;
const LOG_TAIL_CHARS = 8000;

/** Options of startPostgres. */
export interface StartPostgresOptions {
  /**
   * The password of the superuser `ioc`, checked on every TCP connection (initdb
   * `--auth-host=scram-sha-256`, as a deployment's PostgreSQL runs); the URLs carry it. Default:
   * none, trust authentication on loopback.
   */
  password?: string;
}

export interface PostgresHandle {
  /**
   * `postgres://ioc@127.0.0.1:{port}/postgres` (trust authentication on loopback), or
   * `postgres://ioc:{password}@…` with a password.
   */
  readonly adminUrl: string;
  readonly port: number;
  /** Creates a fresh database and answers its URL. */
  createDatabase(name?: string): Promise<string>;
  logs(): string;
  /** Stops the server (fast shutdown) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
  /**
   * An outage: stops the server (fast shutdown: every client's connection is closed, SQLSTATE
   * 57P01 admin_shutdown) and keeps its data and port, for startServer().
   */
  stopServer(): Promise<void>;
  /** Starts it again after stopServer() on the same port and data; resolves once it answers. */
  startServer(): Promise<void>;
  /** Whether the server runs (false between stopServer() and startServer()). */
  readonly running: boolean;
}

/** The directory holding initdb and postgres: PATH first, then Debian's /usr/lib/postgresql/{version}/bin. */
export function postgresBinDir(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  return undefined;
}

export function postgresAvailable(): boolean {
  return postgresBinDir() !== undefined;
}

/**
 * `describe` for suites that need a real PostgreSQL. Without it the suite is skipped with a
 * message, except in CI (`CI=true`), where a missing server fails the build instead of silently
 * testing nothing.
 */
export function describeWithPostgres(name: string, fn: () => void): void {
  describeWithServer(name, { available: postgresAvailable, missingMessage: POSTGRES_MISSING_MESSAGE }, fn);
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts PostgreSQL; resolves once it accepts connections. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const { password } = options;
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(POSTGRES_MISSING_MESSAGE);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'ioc-pg-'));
  const dataDir = join(dir, 'data');
  chmodSync(dir, 0o755);
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    owner = { uid, gid };
    chownSync(dir, uid, gid);
  }
  // Run as the postgres user through spawn's uid/gid (not runuser), so signals reach postgres itself.
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};

  const pwfile = join(dir, 'pwfile');
  if (password !== undefined) writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  const auth =
    password === undefined
      ? ['--auth=trust']
      : ['--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`];
  const initArgs = ['-D', dataDir, '-U', 'ioc', ...auth, '-E', 'UTF8', '--locale=C', '--no-sync'];
  try {
    execFileSync(join(bin, 'initdb'), initArgs, { stdio: 'pipe', cwd: dir, ...as });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${stderr || (error as Error).message}`);
  }

  const port = await freePort();
  const args = [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-h',
    '127.0.0.1',
    '-k',
    dir,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ];
  let output = '';
  const user = password === undefined ? 'ioc' : `ioc:${encodeURIComponent(password)}`;
  const adminUrl = `postgres://${user}@127.0.0.1:${port}/postgres`;
  /** Starts the server process on the data directory and port; resolves once it answers. */
  const launch = async (): Promise<{ child: ChildProcess; exited: Promise<void> }> => {
    const child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...as });
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    live.add(child);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const proc of live) proc.kill('SIGKILL');
      });
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const client = new pg.Client({ connectionString: adminUrl });
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return { child, exited };
      } catch (error) {
        await client.end().catch(() => undefined);
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill('SIGKILL');
          live.delete(child);
          throw new Error(`PostgreSQL did not start on port ${port}: ${(error as Error).message}\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  /** Fast shutdown (SIGINT: disconnects clients, no wait for them), SIGKILL after 10 s. */
  const shutdown = async (server: { child: ChildProcess; exited: Promise<void> }): Promise<void> => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGINT');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
      await server.exited;
      clearTimeout(timer);
    }
    live.delete(server.child);
  };
  let server: { child: ChildProcess; exited: Promise<void> } | undefined;
  try {
    server = await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let counter = 0;
  let stopped = false;
  return {
    adminUrl,
    port,
    logs: () => output,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `ioc_test_${process.pid}_${++counter}`;
      if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`unsafe database name "${db}"`);
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${db}`);
      } finally {
        await client.end();
      }
      return `postgres://${user}@127.0.0.1:${port}/${db}`;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      if (server) await shutdown(server);
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
    async stopServer(): Promise<void> {
      if (stopped) throw new Error('PostgreSQL was stopped for good (stop())');
      if (server) await shutdown(server);
      server = undefined;
    },
    async startServer(): Promise<void> {
      if (stopped) throw new Error('PostgreSQL was stopped for good (stop())');
      server ??= await launch();
    },
    get running(): boolean {
      return server !== undefined;
    },
  };
}
