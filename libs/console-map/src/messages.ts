import { defineMessages } from '@ioc/console-data';
import type { MarkerState } from '@ioc/console-data';

/** The map's own texts (domain, type, metric, severity and AQI band names come from labels.ts / @ioc/aqi). */
export const MAP_MESSAGES = defineMessages({
  vi: {
    mapLabel: 'Bản đồ thiết bị',
    legend: 'Chú giải',
    legendStates: 'Trạng thái',
    legendAqi: 'Chỉ số VN_AQI',
    legendDomains: 'Lĩnh vực',
    filter: 'Lọc',
    filterDomains: 'Lĩnh vực',
    filterTypes: 'Loại thiết bị',
    filterStates: 'Trạng thái',
    filterArea: 'Địa bàn',
    filterAllTypes: 'Tất cả loại thiết bị',
    filterAllAreas: 'Toàn tỉnh',
    filterReset: 'Bỏ lọc',
    filterShown: 'Đang hiển thị {shown}/{total} thiết bị',
    search: 'Tìm thiết bị hoặc địa bàn',
    searchNone: 'Không tìm thấy thiết bị hay địa bàn nào',
    searchArea: 'Địa bàn',
    searchCount: '{count} kết quả',
    cluster: '{count} thiết bị, trạng thái nặng nhất: {state}. Nhấn để phóng to',
    aqi: 'AQI {value} ({band})',
    severity: 'Mức {severity}',
    id: 'Mã',
    zoomIn: 'Phóng to',
    zoomOut: 'Thu nhỏ',
  },
  en: {
    mapLabel: 'Device map',
    legend: 'Legend',
    legendStates: 'State',
    legendAqi: 'VN_AQI',
    legendDomains: 'Domain',
    filter: 'Filter',
    filterDomains: 'Domains',
    filterTypes: 'Device type',
    filterStates: 'States',
    filterArea: 'Area',
    filterAllTypes: 'All device types',
    filterAllAreas: 'Whole province',
    filterReset: 'Clear filter',
    filterShown: 'Showing {shown}/{total} devices',
    search: 'Find a device or an area',
    searchNone: 'No device or area found',
    searchArea: 'Area',
    searchCount: '{count} results',
    cluster: '{count} devices, worst state: {state}. Press to zoom in',
    aqi: 'AQI {value} ({band})',
    severity: '{severity} severity',
    id: 'Id',
    zoomIn: 'Zoom in',
    zoomOut: 'Zoom out',
  },
});

/** Names of the marker states: one table for the whole console (@ioc/console-data labels). */
export { MARKER_STATE_LABELS } from '@ioc/console-data';

/** The text cue each state carries besides its colour (markers' badge, clusters, legend). */
export const STATE_SYMBOLS: Readonly<Record<MarkerState, string>> = {
  alerting: '!',
  offline: '×',
  unknown: '?',
  online: '',
  inactive: '–',
};
