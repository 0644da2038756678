/**
 * A bare aedes 1.x broker — `Aedes.createBroker()` with its default in-memory persistence and no
 * hooks (no authentication, no validation, no spool) on a plain net server — the ceiling the
 * ingest throughput benchmark compares the platform broker against. Run as its own process:
 *
 *   BENCH_BARE_PORT=1883 node -r ./scripts/register.js bench/lib/bare-broker.ts
 *
 * Prints `bare broker ready` once it listens; stops on SIGTERM/SIGINT.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

async function main(): Promise<void> {
  const port = Number(process.env['BENCH_BARE_PORT'] ?? 1883);
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  process.stdout.write(`bare broker ready on 127.0.0.1:${port}\n`);
  const stop = (): void => {
    server.close();
    broker.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
