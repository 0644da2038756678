import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServerKey } from './key-file';

describe('loadServerKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ioc-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const options = (path: string) => ({
    path,
    minBytes: 32,
    name: 'IOC_TEST_KEY',
    description: 'the test key',
  });

  it('creates the key file once (0600) and reads the same key afterwards', () => {
    const path = join(dir, 'keys', 'test.key');
    const first = loadServerKey(options(path));
    expect(first).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    expect(loadServerKey(options(path)).equals(first)).toBe(true);
    expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').equals(first)).toBe(true);
  });

  it('prefers the configured value, hex or base64, and writes no file', () => {
    const path = join(dir, 'keys', 'test.key');
    const hex = 'ab'.repeat(32);
    expect(loadServerKey({ ...options(path), configured: hex }).equals(Buffer.from(hex, 'hex'))).toBe(true);
    const b64 = Buffer.alloc(48, 3).toString('base64');
    expect(loadServerKey({ ...options(path), configured: b64 })).toHaveLength(48);
    expect(() => statSync(path)).toThrow();
  });

  it('refuses a key shorter than minBytes, naming where it came from', () => {
    const path = join(dir, 'short.key');
    expect(() => loadServerKey({ ...options(path), configured: 'abcd' })).toThrow(
      /IOC_TEST_KEY: the test key must be at least 32 bytes .*got 2/,
    );
    writeFileSync(path, Buffer.alloc(16).toString('base64'));
    expect(() => loadServerKey(options(path))).toThrow(
      new RegExp(`${path}: the test key must be at least 32 bytes`),
    );
  });
});
