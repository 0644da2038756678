/** The four domains the province's plan integrates first; each owns a topic subtree. */
export const DOMAINS = ['env', 'traffic', 'lighting', 'camera'] as const;
export type Domain = (typeof DOMAINS)[number];

export function isDomain(value: string): value is Domain {
  return (DOMAINS as readonly string[]).includes(value);
}
