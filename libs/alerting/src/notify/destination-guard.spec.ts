import { DestinationGuard, WebhookDestinationError } from './destination-guard';

describe('DestinationGuard (SSRF)', () => {
  const strict = new DestinationGuard();

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private (RFC 1918)'],
    ['172.16.0.1', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved and broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd12:3456::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
  ])('refuses %s (%s)', (address, range) => {
    expect(strict.refusal(address)).toContain(range);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])(
    'passes the public address %s',
    (address) => {
      expect(strict.refusal(address)).toBeNull();
    },
  );

  it('refuses URLs to private literals, and names that resolve to one (any of their addresses)', async () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://10.0.0.5:8080/x',
      'http://169.254.169.254/latest',
      'http://[::1]:9/',
    ]) {
      await expect(strict.check(url)).rejects.toMatchObject({ code: 'private-address' });
    }
    const resolving = (addresses: string[]) =>
      new DestinationGuard({
        resolve: () =>
          Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))),
      });
    await expect(resolving(['127.0.0.1']).check('https://hooks.example/x')).rejects.toThrow(
      'hooks.example resolves to 127.0.0.1: loopback',
    );
    await expect(resolving(['93.184.215.14', '10.0.0.1']).check('https://hooks.example/x')).rejects.toThrow(
      WebhookDestinationError,
    );
    await expect(resolving(['93.184.215.14']).check('https://hooks.example/x')).resolves.toMatchObject({
      address: '93.184.215.14',
      family: 4,
    });
    // The OS resolver: localhost is loopback.
    await expect(strict.check('http://localhost:9000/')).rejects.toMatchObject({ code: 'private-address' });
  });

  it('refuses malformed URLs, other schemes and credentials in the URL', async () => {
    for (const url of [
      'not a url',
      'ftp://example.com/',
      'file:///etc/passwd',
      'http://user:pw@example.com/',
    ]) {
      await expect(strict.check(url)).rejects.toMatchObject({ code: 'invalid-url' });
    }
  });

  it('allows what configuration allows: everything, or the CIDRs listed', async () => {
    expect(new DestinationGuard({ allowPrivate: true }).refusal('10.0.0.1')).toBeNull();
    const cidrs = new DestinationGuard({ allowedCidrs: ['10.20.0.0/16', 'fd00::/8'] });
    expect(cidrs.refusal('10.20.3.4')).toBeNull();
    expect(cidrs.refusal('10.21.0.1')).toContain('private');
    expect(cidrs.refusal('fd00::5')).toBeNull();
    expect(() => new DestinationGuard({ allowedCidrs: ['10.0.0.0/33'] })).toThrow(RangeError);
    expect(() => new DestinationGuard({ allowedCidrs: ['nonsense'] })).toThrow(RangeError);
  });
});
