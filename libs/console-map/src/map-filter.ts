import type { AreaTree } from './area-tree';
import type { MapDevice, MapFilter } from './map-device';
import { foldText, matchesText, searchKey } from './text-search';

/** A filter prepared for many tests: the folded text and sets for the lists. */
export interface CompiledFilter {
  matches(device: MapDevice, key?: string): boolean;
  /** True when the filter looks at marker states (a state change may move a device in or out). */
  readonly usesState: boolean;
  /** True when the filter looks at the search text (`matches` then wants the device's key). */
  readonly usesText: boolean;
  /** True when the filter keeps every device. */
  readonly keepsAll: boolean;
}

/**
 * Compiles `filter` against `tree` (area subtrees). `matches(device, key)` takes the device's
 * `searchKey` when the caller has it cached (it is computed otherwise).
 */
export function compileFilter(filter: MapFilter, tree: AreaTree): CompiledFilter {
  const domains = nonEmptySet(filter.domains);
  const types = nonEmptySet(filter.types);
  const states = nonEmptySet(filter.states);
  const areaId = filter.areaId === undefined || filter.areaId === '' ? undefined : filter.areaId;
  const text = foldText(filter.text ?? '');
  return {
    usesState: states !== undefined,
    usesText: text !== '',
    keepsAll:
      domains === undefined && types === undefined && states === undefined && areaId === undefined && text === '',
    matches(device, key) {
      if (domains !== undefined && !domains.has(device.domain)) return false;
      if (types !== undefined && !types.has(device.type)) return false;
      if (states !== undefined && !states.has(device.state)) return false;
      if (areaId !== undefined && !tree.isWithin(device.areaId, device.areaPath, areaId)) return false;
      if (text !== '' && !matchesText(key ?? searchKey(device.id, device.name), text)) return false;
      return true;
    },
  };
}

/** True when `filter` keeps every device. */
export function isEmptyFilter(filter: MapFilter): boolean {
  return (
    !filter.domains?.length &&
    !filter.types?.length &&
    !filter.states?.length &&
    (filter.areaId ?? '') === '' &&
    foldText(filter.text ?? '') === ''
  );
}

function nonEmptySet<T>(list: readonly T[] | undefined): Set<T> | undefined {
  return list === undefined || list.length === 0 ? undefined : new Set(list);
}
