/**
 * A small browser for end-to-end tests of redirect flows (single sign-on): fetch with
 * `redirect: 'manual'` and a cookie jar per origin (scheme, host and port), so the test sees and
 * follows each redirect itself and can check what every hop answered.
 */
export interface BrowserResponse {
  status: number;
  url: string;
  headers: Headers;
  body: string;
  /** The Location header resolved against `url`, or null. */
  location: string | null;
}

export class TestBrowser {
  /** origin → cookie name → value. Expiry and path are not modelled; Max-Age=0 / past Expires deletes. */
  private readonly jar = new Map<string, Map<string, string>>();

  /** The cookie `name` the browser holds for `origin` (e.g. `http://127.0.0.1:3000`), or undefined. */
  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(new URL(origin).origin)?.get(name);
  }

  /** Sets a cookie by hand (e.g. to replay an old one). */
  setCookie(origin: string, name: string, value: string): void {
    const origin_ = new URL(origin).origin;
    if (!this.jar.has(origin_)) this.jar.set(origin_, new Map());
    this.jar.get(origin_)?.set(name, value);
  }

  /** One request, no redirect followed; cookies sent and stored. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    const origin = new URL(url).origin;
    const headers: Record<string, string> = { accept: 'text/html,application/json', ...init.headers };
    const cookies = this.jar.get(origin);
    if (cookies && cookies.size > 0) {
      headers['cookie'] = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(url, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      redirect: 'manual',
      ...(body === undefined ? {} : { body }),
    });
    for (const line of response.headers.getSetCookie()) this.store(origin, line);
    const location = response.headers.get('location');
    return {
      status: response.status,
      url,
      headers: response.headers,
      body: await response.text(),
      location: location === null ? null : new URL(location, url).href,
    };
  }

  /**
   * Requests `url` and follows redirects (GET, as browsers do after 302/303) until an answer that
   * is not one, or until `stopAt(url)` says the next URL is one the test wants to request itself.
   * @returns every response in order (the last is where it stopped)
   */
  async follow(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
    stopAt: (next: string) => boolean = () => false,
    maxHops = 20,
  ): Promise<BrowserResponse[]> {
    const hops: BrowserResponse[] = [await this.request(url, init)];
    for (;;) {
      const last = hops[hops.length - 1] as BrowserResponse;
      if (last.status < 300 || last.status >= 400 || last.location === null || stopAt(last.location))
        return hops;
      if (hops.length >= maxHops) throw new Error(`more than ${maxHops} redirects from ${url}`);
      hops.push(await this.request(last.location));
    }
  }

  private store(origin: string, line: string): void {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const expired = attributes.some((attribute) => {
      const [key = '', val = ''] = attribute.split('=');
      if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
      if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
      return false;
    });
    if (!this.jar.has(origin)) this.jar.set(origin, new Map());
    const cookies = this.jar.get(origin) as Map<string, string>;
    if (expired || value === '') cookies.delete(name);
    else cookies.set(name, value);
  }
}

/** The `action` URL of the first form in an HTML page (entities decoded), or undefined. */
export function formAction(html: string): string | undefined {
  return /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
}
