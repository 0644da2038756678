import { createServer } from 'node:net';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago: the OS picks it (listen on port 0), we read
 * it and close the socket. Another process may grab it before the caller binds it, so callers
 * that start servers retry on "address in use".
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected listen address: ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
