import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Address ranges a webhook may not reach unless configuration allows them (server-side request
 * forgery: the Standard Webhooks spec, "Server side request forgery (SSRF)"). Each with its source:
 */
const REFUSED_V4: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified ("this network", RFC 791 / RFC 1122 §3.2.1.3)'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback (RFC 1122 §3.2.1.3)'],
  ['169.254.0.0', 16, 'link-local (RFC 3927; cloud metadata services)'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments (RFC 6890)'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking (RFC 2544)'],
  ['224.0.0.0', 4, 'multicast (RFC 5771)'],
  ['240.0.0.0', 4, 'reserved and broadcast (RFC 1112 §4, RFC 919)'],
];
const REFUSED_V6: ReadonlyArray<readonly [string, number, string]> = [
  ['::', 128, 'unspecified (RFC 4291 §2.5.2)'],
  ['::1', 128, 'loopback (RFC 4291 §2.5.3)'],
  ['fc00::', 7, 'unique local (RFC 4193)'],
  ['fe80::', 10, 'link-local (RFC 4291 §2.5.6)'],
  ['fec0::', 10, 'site-local (deprecated, RFC 3879)'],
  ['ff00::', 8, 'multicast (RFC 4291 §2.7)'],
];

/** Why a webhook destination was refused: the URL itself, or where its host resolves. */
export class WebhookDestinationError extends Error {
  constructor(
    message: string,
    /** `invalid-url` | `private-address` | `unresolvable`. */
    readonly code: 'invalid-url' | 'private-address' | 'unresolvable',
  ) {
    super(message);
    this.name = 'WebhookDestinationError';
  }
}

/** What IOC_WEBHOOK_ALLOW_PRIVATE and IOC_WEBHOOK_ALLOWED_CIDRS configure. */
export interface DestinationGuardOptions {
  /** true: no address is refused (a closed network, tests). */
  allowPrivate?: boolean;
  /** CIDRs (`10.20.0.0/16`, `fd00::/8`, `127.0.0.1/32`) allowed although in a refused range. */
  allowedCidrs?: readonly string[];
  /** Host name resolution (tests inject one); `dns.lookup` (the OS resolver, /etc/hosts) by default. */
  resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

/** An address a request may connect to: checked, so the socket must use exactly it. */
export interface CheckedDestination {
  url: URL;
  address: string;
  family: 4 | 6;
}

/**
 * The SSRF guard of webhook destinations. A URL must be `http:` or `https:` without credentials;
 * its host (a name is resolved, every address it resolves to must pass) must not be loopback,
 * private (RFC 1918), link-local, carrier-grade NAT, unique-local IPv6, multicast, reserved or
 * unspecified — an IPv4-mapped IPv6 address is judged as its IPv4 address — unless
 * `allowPrivate`, or an `allowedCidrs` range holds it. Checked when an endpoint is written AND
 * before every send, and the request then connects to the address that was checked (a second DNS
 * answer, "DNS rebinding", cannot point it elsewhere).
 */
export class DestinationGuard {
  private readonly refusedV4 = new BlockList();
  private readonly refusedV6 = new BlockList();
  private readonly allowed = new BlockList();
  private readonly allowPrivate: boolean;
  private readonly resolve: (host: string) => Promise<Array<{ address: string; family: number }>>;

  /** @throws RangeError naming a malformed CIDR of `allowedCidrs` */
  constructor(options: DestinationGuardOptions = {}) {
    for (const [net, prefix] of REFUSED_V4) this.refusedV4.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of REFUSED_V6) this.refusedV6.addSubnet(net, prefix, 'ipv6');
    for (const cidr of options.allowedCidrs ?? []) {
      const [net = '', bits = ''] = cidr.trim().split('/');
      const family = isIP(net);
      const prefix = Number(bits);
      if (family === 0 || !/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128))
        throw new RangeError(`"${cidr}" is not a CIDR (address/prefix length)`);
      this.allowed.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
    this.allowPrivate = options.allowPrivate ?? false;
    this.resolve = options.resolve ?? ((host) => lookup(host, { all: true, verbatim: true }));
  }

  /** Why `address` (an IP literal) is refused, or null when it may be reached. */
  refusal(address: string): string | null {
    if (this.allowPrivate) return null;
    const family = isIP(address);
    if (family === 0) return 'not an IP address';
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(address, type)) return null;
    const mapped = family === 6 ? mappedIpv4(address) : undefined;
    if (mapped !== undefined) return this.allowed.check(mapped, 'ipv4') ? null : this.rangeOf(mapped, 4);
    return this.rangeOf(address, family === 4 ? 4 : 6);
  }

  /**
   * Parses and checks a destination URL, resolving its host.
   * @returns the address to connect to (the first the resolver gave; all of them passed)
   * @throws WebhookDestinationError (`invalid-url`, `private-address`, `unresolvable`)
   */
  async check(rawUrl: string): Promise<CheckedDestination> {
    const url = parseWebhookUrl(rawUrl);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    let addresses: Array<{ address: string; family: number }>;
    if (isIP(host) !== 0) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await this.resolve(host);
      } catch (error) {
        throw new WebhookDestinationError(
          `${host} does not resolve: ${(error as Error).message}`,
          'unresolvable',
        );
      }
      if (addresses.length === 0)
        throw new WebhookDestinationError(`${host} does not resolve`, 'unresolvable');
    }
    for (const { address } of addresses) {
      const why = this.refusal(address);
      if (why !== null) {
        throw new WebhookDestinationError(
          `${host === address ? address : `${host} resolves to ${address}`}: ${why} addresses are refused (IOC_WEBHOOK_ALLOW_PRIVATE / IOC_WEBHOOK_ALLOWED_CIDRS)`,
          'private-address',
        );
      }
    }
    const first = addresses[0] as { address: string; family: number };
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  private rangeOf(address: string, family: 4 | 6): string | null {
    const list = family === 4 ? REFUSED_V4 : REFUSED_V6;
    const blocks = family === 4 ? this.refusedV4 : this.refusedV6;
    if (!blocks.check(address, family === 4 ? 'ipv4' : 'ipv6')) return null;
    for (const [net, prefix, name] of list) {
      const one = new BlockList();
      one.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
      if (one.check(address, family === 4 ? 'ipv4' : 'ipv6')) return name;
    }
    return 'reserved';
  }
}

/**
 * A webhook URL as the platform accepts it: absolute `http:`/`https:`, no user name or password
 * (they would be sent to the receiver in the clear), at most 2 000 characters.
 * @throws WebhookDestinationError `invalid-url`
 */
export function parseWebhookUrl(rawUrl: string): URL {
  if (rawUrl.length > 2000)
    throw new WebhookDestinationError('the URL is longer than 2000 characters', 'invalid-url');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new WebhookDestinationError(`"${rawUrl.slice(0, 100)}" is not an absolute URL`, 'invalid-url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WebhookDestinationError(
      `only http and https URLs are allowed, not ${url.protocol}`,
      'invalid-url',
    );
  if (url.username !== '' || url.password !== '')
    throw new WebhookDestinationError('a webhook URL may not carry a user name or password', 'invalid-url');
  return url;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2). */
function mappedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const hi = parseInt(hex[1] as string, 16);
  const lo = parseInt(hex[2] as string, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
