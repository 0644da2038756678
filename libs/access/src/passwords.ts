import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * scrypt cost of new password hashes, from the OWASP Password Storage Cheat Sheet (scrypt:
 * "N=2^17 (128 MiB), r=8 (1024 bytes), p=1"): N = 2^17, r = 8, p = 1. One hash takes about
 * 0.3 s and 128 MiB (128 · N · r bytes) on this project's 2-core test machine.
 */
export const PASSWORD_SCRYPT_COST = { logN: 17, r: 8, p: 1 } as const;
/** Salt bytes (16: the cheat sheet's and RFC 7914's customary size). */
export const PASSWORD_SALT_BYTES = 16;
/** Derived key bytes (32 = 256 bits). */
export const PASSWORD_KEY_BYTES = 32;
/**
 * scrypt's memory ceiling: Node's default maxmem (32 MiB) refuses N = 2^17, r = 8 (128 MiB), so
 * it is raised to 256 MiB, which also bounds what a stored hash's parameters can make us spend.
 */
export const PASSWORD_SCRYPT_MAXMEM = 256 * 1024 * 1024;
/** Length bounds of a password, in characters (NIST SP 800-63B §5.1.1.2: at least 8; we ask 12; allow at least 64). */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/** The cost parameters of one scrypt hash. */
export interface ScryptCost {
  /** log2 of N (CPU/memory cost). */
  logN: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

const STORED_PATTERN =
  /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function deriveKey(password: string, salt: Buffer, cost: ScryptCost, keyBytes: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** cost.logN, r: cost.r, p: cost.p, maxmem: PASSWORD_SCRYPT_MAXMEM };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyBytes, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * The stored form of a password: `scrypt$<log2 N>$<r>$<p>$<salt base64>$<key base64>`, e.g.
 * `scrypt$17$8$1$…$…`, with a fresh 16-byte salt and a 32-byte key. The password is NFKC-normalised
 * first (NIST SP 800-63B §5.1.1.2), so the same text typed on two keyboards verifies.
 *
 * @param cost scrypt cost (default PASSWORD_SCRYPT_COST; lower only in tests of the format)
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = PASSWORD_SCRYPT_COST,
): Promise<string> {
  const salt = randomBytes(PASSWORD_SALT_BYTES);
  const key = await deriveKey(password, salt, cost, PASSWORD_KEY_BYTES);
  return `scrypt$${cost.logN}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Whether `password` matches `stored` (a hashPassword string), compared in constant time. A
 * malformed stored string, or one whose parameters are out of bounds (log2 N 10–20, r 1–32,
 * p 1–16, salt ≥ 8 bytes, key 16–64 bytes, memory within PASSWORD_SCRYPT_MAXMEM), answers false
 * without throwing.
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parsed = parseStoredPassword(stored);
  if (parsed === undefined) return false;
  try {
    const key = await deriveKey(password, parsed.salt, parsed.cost, parsed.key.length);
    return timingSafeEqual(key, parsed.key);
  } catch {
    return false;
  }
}

/** The parts of a stored hash, or undefined when it is not one verifyPassword accepts. */
function parseStoredPassword(
  stored: string | null | undefined,
): { cost: ScryptCost; salt: Buffer; key: Buffer } | undefined {
  if (typeof stored !== 'string') return undefined;
  const match = STORED_PATTERN.exec(stored);
  if (!match) return undefined;
  const cost = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  const salt = Buffer.from(match[4] ?? '', 'base64');
  const key = Buffer.from(match[5] ?? '', 'base64');
  if (cost.logN < 10 || cost.logN > 20 || cost.r < 1 || cost.r > 32 || cost.p < 1 || cost.p > 16)
    return undefined;
  if (128 * 2 ** cost.logN * cost.r > PASSWORD_SCRYPT_MAXMEM / 2) return undefined;
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined;
  return { cost, salt, key };
}

/**
 * A short list of the most common passwords of 12 characters or more (from the top of public
 * breach-corpus rankings such as SecLists' 10-million-password list); NIST SP 800-63B §5.1.1.2
 * asks for a check against "passwords obtained from previous breach corpuses" and "dictionary
 * words". Compared ignoring case. Single repeated characters are refused separately.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '123456789123',
  '123123123123',
  '121212121212',
  '123412341234',
  '098765432109',
  '987654321098',
  'qwertyuiopas',
  'qwertyuiop12',
  'qwertyuiop123',
  'qwerty123456',
  'qwerty1234567',
  '1qaz2wsx3edc',
  '1q2w3e4r5t6y',
  'q1w2e3r4t5y6',
  'asdfghjkl123',
  'zxcvbnm12345',
  'password1234',
  'password12345',
  'password123!',
  'passwordpassword',
  'passw0rd1234',
  'p@ssw0rd1234',
  'iloveyou1234',
  'administrator',
  'administrator1',
  'admin1234567',
  'adminadminadmin',
  'changeme1234',
  'welcome12345',
  'letmein12345',
  'abcdefghijkl',
  'abcdefgh1234',
  'abc123456789',
  'abcd12345678',
  'matkhau12345',
  'matkhau123456',
  'sunshine1234',
  'football1234',
  'baseball1234',
  'monkey123456',
  'dragon123456',
  'trustno11234',
]);

/**
 * Why `password` is refused for the account `username`, or null when it passes. NIST SP 800-63B
 * §5.1.1.2 (length, not composition): 12–256 characters (counted as Unicode code points after
 * NFKC), not the username (ignoring case), not one character repeated, not one of
 * COMMON_PASSWORDS (ignoring case). No rule about character classes.
 */
export function passwordPolicyProblem(password: string, context: { username?: string } = {}): string | null {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) return `the password must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `the password must be at most ${PASSWORD_MAX_LENGTH} characters`;
  const lower = normalized.toLowerCase();
  if (context.username !== undefined && lower === context.username.toLowerCase()) {
    return 'the password must not be the username';
  }
  if (new Set(normalized).size === 1) return 'the password must not be one character repeated';
  if (COMMON_PASSWORDS.has(lower)) return 'the password is one of the most common passwords';
  return null;
}

/**
 * A generated password of `length` characters (default 20) from a 56-letter alphabet without
 * look-alikes (no 0/O, 1/l/I): 20 × log2(56) ≈ 116 bits. Passes passwordPolicyProblem.
 */
export function generatePassword(length = 20): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // Rejection sampling keeps every letter equally likely (256 = 4 · 56 + 32).
      if (byte < alphabet.length * 4 && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}
