export { createDeviceMap, type DeviceMap, type DeviceMapOptions } from './device-map';
export {
  toMapDevice,
  worstState,
  STATE_RANK,
  MAIN_METRICS,
  type MapDevice,
  type MapFilter,
  type MainValue,
} from './map-device';
export { AreaTree, labelDepthForZoom } from './area-tree';
export { compileFilter, isEmptyFilter } from './map-filter';
export { foldText, searchEntries, searchKey } from './text-search';
export { MAP_MESSAGES, MARKER_STATE_LABELS, STATE_SYMBOLS } from './messages';
export { markerLabel, tooltipLines } from './markers/marker-text';
