import {
  COMMON_PASSWORDS,
  generatePassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  passwordPolicyProblem,
  verifyPassword,
} from './passwords';

const GOOD = 'correct horse battery staple';

describe('password hashing (scrypt)', () => {
  let stored: string;
  beforeAll(async () => {
    stored = await hashPassword(GOOD);
  }, 30_000);

  it('stores scrypt$17$8$1$<16-byte salt>$<32-byte key> and verifies the password', async () => {
    const parts = stored.split('$');
    expect(parts.slice(0, 4)).toEqual(['scrypt', '17', '8', '1']);
    expect(Buffer.from(parts[4] ?? '', 'base64')).toHaveLength(16);
    expect(Buffer.from(parts[5] ?? '', 'base64')).toHaveLength(32);
    await expect(verifyPassword(GOOD, stored)).resolves.toBe(true);
  });

  it('refuses a wrong password, and the same text in another case', async () => {
    await expect(verifyPassword('correct horse battery stapler', stored)).resolves.toBe(false);
    await expect(verifyPassword(GOOD.toUpperCase(), stored)).resolves.toBe(false);
  });

  it('salts each hash', async () => {
    const cheap = { logN: 10, r: 8, p: 1 };
    const [a, b] = await Promise.all([hashPassword(GOOD, cheap), hashPassword(GOOD, cheap)]);
    expect(a).not.toBe(b);
    await expect(verifyPassword(GOOD, a)).resolves.toBe(true);
    await expect(verifyPassword(GOOD, b)).resolves.toBe(true);
  });

  it('answers false, without throwing, for malformed or out-of-bounds stored strings', async () => {
    const [, , , , salt, key] = stored.split('$');
    const malformed = [
      null,
      undefined,
      '',
      'plain-text-password',
      `bcrypt$17$8$1$${salt}$${key}`,
      `scrypt$17$8$1$${salt}`,
      `scrypt$17$8$1$${salt}$${key}$extra`,
      `scrypt$x$8$1$${salt}$${key}`,
      `scrypt$30$8$1$${salt}$${key}`, // N = 2^30: would ask 128 GiB
      `scrypt$17$64$1$${salt}$${key}`, // r beyond bounds
      `scrypt$17$8$0$${salt}$${key}`,
      `scrypt$17$8$1$$${key}`,
      `scrypt$17$8$1$${salt}$AAAA`, // 3-byte key
      `scrypt$17$8$1$${salt}$${key}!`,
    ];
    for (const value of malformed) await expect(verifyPassword(GOOD, value)).resolves.toBe(false);
  });
});

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  it.each([
    ['short', 'elevenchars', /at least 12/],
    ['too long', 'a'.repeat(PASSWORD_MAX_LENGTH) + 'b', /at most 256/],
    ['the username', 'Nguyen.Van.An', /username/],
    ['one character repeated', 'zzzzzzzzzzzzzzzz', /repeated/],
    ['a common password', 'Password1234', /common/],
  ])('refuses %s', (_what, password, message) => {
    expect(passwordPolicyProblem(password, { username: 'nguyen.van.an' })).toMatch(message);
  });

  it('counts characters, not bytes, and asks no character classes', () => {
    expect(passwordPolicyProblem('mật khẩu dài', {})).toBeNull(); // 12 characters, 15 bytes
    expect(passwordPolicyProblem('mật khẩu dà', {})).toMatch(/at least 12/);
    expect(passwordPolicyProblem('all lower case words', { username: 'admin' })).toBeNull();
  });

  it('generates passwords that pass it, all different', () => {
    const generated = Array.from({ length: 50 }, () => generatePassword());
    for (const password of generated) {
      expect(password).toMatch(/^[A-HJ-NP-Za-km-z2-9]{20}$/);
      expect(passwordPolicyProblem(password, { username: 'admin' })).toBeNull();
    }
    expect(new Set(generated).size).toBe(50);
    expect(COMMON_PASSWORDS.size).toBeGreaterThan(20);
  });
});
