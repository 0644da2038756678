import type { Area, Device } from '@ioc/contracts';

/*
 * The seeded area tree as the end-to-end tests read it: which district a scenario's stations lie
 * in, and which areas lie under one.
 */

/**
 * The district (the area right below the province) holding every one of `stations`. Throws when
 * they lie in more than one (a scenario is planned over one district).
 */
export function commonDistrict(stations: readonly Device[], areas: readonly Area[]): string {
  const byId = new Map(areas.map((a) => [a.id, a]));
  const pathOf = (areaId: string): string[] => {
    const path: string[] = [];
    for (let id: string | null | undefined = areaId; id; id = byId.get(id)?.parentId) path.unshift(id);
    return path;
  };
  const paths = stations.map((s) => pathOf(s.areaId));
  const district = paths[0]?.[1];
  if (!district || !paths.every((p) => p[1] === district))
    throw new Error(`the scenario's stations are not in one district: ${JSON.stringify(paths)}`);
  return district;
}
