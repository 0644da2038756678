/**
 * `describe` for suites that need a real server installed on the machine (influxd, PostgreSQL).
 * Without it the suite is skipped with `missingMessage` (saying how to install it), except in CI
 * (`CI=true`), where a missing server must fail the build instead of silently testing nothing.
 */
export function describeWithServer(
  name: string,
  server: { available: () => boolean; missingMessage: string },
  fn: () => void,
): void {
  if (server.available()) {
    describe(name, fn);
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(name, () => {
      it('requires its server', () => {
        throw new Error(`${server.missingMessage} (CI=true, so this suite fails instead of skipping)`);
      });
    });
    return;
  }
  console.warn(`${name}: ${server.missingMessage}`);
  describe.skip(name, fn);
}
