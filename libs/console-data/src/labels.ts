import type { MarkerState } from './device-view';
import type {
  AlertState,
  HealthConditionCode,
  Role,
  ConsoleLocale,
  DeviceStatusValue,
  DeviceType,
  Domain,
  MetricName,
  Severity,
} from '@ioc/contracts';

/**
 * Names shown for the platform's own vocabulary, in Vietnamese and English. Every domain, device
 * type, metric, status, alert state, severity and camera event has one (the Record types make a
 * missing one a type error). AQI band names come from @ioc/aqi (`bandRecord(band).name`).
 */
type Label = Readonly<Record<ConsoleLocale, string>>;

export const DOMAIN_LABELS: Readonly<Record<Domain, Label>> = {
  env: { vi: 'Môi trường', en: 'Environment' },
  traffic: { vi: 'Giao thông', en: 'Traffic' },
  lighting: { vi: 'Chiếu sáng', en: 'Street lighting' },
  camera: { vi: 'Camera', en: 'Cameras' },
};

export const DEVICE_TYPE_LABELS: Readonly<Record<DeviceType, Label>> = {
  'air-quality-station': { vi: 'Trạm quan trắc không khí', en: 'Air quality station' },
  'water-quality-station': { vi: 'Trạm quan trắc nước', en: 'Water quality station' },
  'noise-meter': { vi: 'Thiết bị đo tiếng ồn', en: 'Noise meter' },
  'weather-station': { vi: 'Trạm khí tượng', en: 'Weather station' },
  'traffic-counter': { vi: 'Thiết bị đếm xe', en: 'Traffic counter' },
  'traffic-signal': { vi: 'Đèn tín hiệu giao thông', en: 'Traffic signal' },
  'street-light': { vi: 'Đèn chiếu sáng', en: 'Street light' },
  'lighting-cabinet': { vi: 'Tủ điều khiển chiếu sáng', en: 'Lighting cabinet' },
  camera: { vi: 'Camera giám sát', en: 'Camera' },
};

export const STATUS_LABELS: Readonly<Record<DeviceStatusValue, Label>> = {
  online: { vi: 'Trực tuyến', en: 'Online' },
  offline: { vi: 'Mất kết nối', en: 'Offline' },
  unknown: { vi: 'Chưa rõ', en: 'Unknown' },
};

/** Names of the map's marker states (connectivity in STATUS_LABELS' wording, plus alerting and inactive). */
export const MARKER_STATE_LABELS: Readonly<Record<MarkerState, Label>> = {
  alerting: { vi: 'Đang cảnh báo', en: 'Alerting' },
  offline: { vi: 'Mất kết nối', en: 'Offline' },
  unknown: { vi: 'Chưa rõ', en: 'Unknown' },
  online: { vi: 'Trực tuyến', en: 'Online' },
  inactive: { vi: 'Ngừng hoạt động', en: 'Inactive' },
};

export const SEVERITY_LABELS: Readonly<Record<Severity, Label>> = {
  info: { vi: 'Thông tin', en: 'Info' },
  warning: { vi: 'Cảnh báo', en: 'Warning' },
  critical: { vi: 'Nghiêm trọng', en: 'Critical' },
};

export const ALERT_STATE_LABELS: Readonly<Record<AlertState, Label>> = {
  pending: { vi: 'Đang chờ', en: 'Pending' },
  firing: { vi: 'Đang cảnh báo', en: 'Firing' },
  acknowledged: { vi: 'Đã tiếp nhận', en: 'Acknowledged' },
  resolved: { vi: 'Đã kết thúc', en: 'Resolved' },
};

/** Camera detection events (DEVICE_TYPE_CONTRACTS.camera.events). */
export const CAMERA_EVENT_LABELS: Readonly<Record<string, Label>> = {
  vehicleCount: { vi: 'Đếm phương tiện', en: 'Vehicle count' },
  congestion: { vi: 'Ùn tắc', en: 'Congestion' },
  accident: { vi: 'Tai nạn', en: 'Accident' },
  wrongWay: { vi: 'Đi ngược chiều', en: 'Wrong way' },
  crowd: { vi: 'Tụ tập đông người', en: 'Crowd' },
};

export const METRIC_LABELS: Readonly<Record<MetricName, Label>> = {
  pm25: { vi: 'Bụi PM2.5', en: 'PM2.5' },
  pm10: { vi: 'Bụi PM10', en: 'PM10' },
  no2: { vi: 'NO₂', en: 'NO₂' },
  so2: { vi: 'SO₂', en: 'SO₂' },
  co: { vi: 'CO', en: 'CO' },
  o3: { vi: 'O₃', en: 'O₃' },
  temperature: { vi: 'Nhiệt độ', en: 'Temperature' },
  relativeHumidity: { vi: 'Độ ẩm tương đối', en: 'Relative humidity' },
  ph: { vi: 'pH', en: 'pH' },
  dissolvedOxygen: { vi: 'Oxy hòa tan (DO)', en: 'Dissolved oxygen' },
  turbidity: { vi: 'Độ đục', en: 'Turbidity' },
  cod: { vi: 'Nhu cầu oxy hóa học (COD)', en: 'Chemical oxygen demand' },
  laeq: { vi: 'Mức âm tương đương (LAeq)', en: 'Equivalent sound level (LAeq)' },
  lamax: { vi: 'Mức âm cực đại (LAmax)', en: 'Maximum sound level (LAmax)' },
  windSpeed: { vi: 'Tốc độ gió', en: 'Wind speed' },
  windDirection: { vi: 'Hướng gió', en: 'Wind direction' },
  precipitation: { vi: 'Lượng mưa', en: 'Precipitation' },
  atmosphericPressure: { vi: 'Áp suất khí quyển', en: 'Atmospheric pressure' },
  solarRadiation: { vi: 'Bức xạ mặt trời', en: 'Solar radiation' },
  intensity: { vi: 'Lưu lượng xe', en: 'Traffic volume' },
  intensityMotorcycle: { vi: 'Xe máy', en: 'Motorcycles' },
  intensityCar: { vi: 'Ô tô', en: 'Cars' },
  intensityBus: { vi: 'Xe buýt', en: 'Buses' },
  intensityLorry: { vi: 'Xe tải', en: 'Lorries' },
  averageVehicleSpeed: { vi: 'Tốc độ trung bình', en: 'Average speed' },
  occupancy: { vi: 'Tỷ lệ chiếm dụng', en: 'Occupancy' },
  periodSeconds: { vi: 'Chu kỳ đếm', en: 'Counting period' },
  phase: { vi: 'Pha tín hiệu', en: 'Signal stage' },
  signalFault: { vi: 'Lỗi tín hiệu', en: 'Signal fault' },
  signalMode: { vi: 'Chế độ tín hiệu', en: 'Signal mode' },
  lampFault: { vi: 'Lỗi đèn', en: 'Lamp fault' },
  on: { vi: 'Đèn bật', en: 'Lamp on' },
  illuminanceLevel: { vi: 'Mức sáng', en: 'Dim level' },
  activePower: { vi: 'Công suất tác dụng', en: 'Active power' },
  energyConsumed: { vi: 'Điện năng tiêu thụ', en: 'Energy consumed' },
  cabinetActivePower: { vi: 'Công suất tủ', en: 'Cabinet power' },
  cabinetEnergyConsumed: { vi: 'Điện năng tủ', en: 'Cabinet energy' },
  voltageL1: { vi: 'Điện áp pha 1', en: 'Voltage L1' },
  voltageL2: { vi: 'Điện áp pha 2', en: 'Voltage L2' },
  voltageL3: { vi: 'Điện áp pha 3', en: 'Voltage L3' },
  powerFactor: { vi: 'Hệ số công suất', en: 'Power factor' },
  circuitsOn: { vi: 'Số mạch đang bật', en: 'Circuits on' },
  doorOpen: { vi: 'Cửa tủ mở', en: 'Door open' },
  online: { vi: 'Trực tuyến', en: 'Online' },
  fps: { vi: 'Khung hình/giây', en: 'Frames per second' },
  bitrate: { vi: 'Tốc độ bit', en: 'Bitrate' },
  count: { vi: 'Số lượng', en: 'Count' },
  confidence: { vi: 'Độ tin cậy', en: 'Confidence' },
  congestionLevel: { vi: 'Mức ùn tắc', en: 'Congestion level' },
  lane: { vi: 'Làn', en: 'Lane' },
  vehicleType: { vi: 'Loại phương tiện', en: 'Vehicle type' },
  peopleCount: { vi: 'Số người', en: 'People' },
  batteryLevel: { vi: 'Mức pin', en: 'Battery' },
  rssi: { vi: 'Cường độ tín hiệu', en: 'Signal strength' },
  firmwareVersion: { vi: 'Phiên bản firmware', en: 'Firmware version' },
  aqi: { vi: 'Chỉ số VN_AQI giờ', en: 'Hourly VN_AQI' },
  aqiDominant: { vi: 'Chất ô nhiễm chính', en: 'Dominant pollutant' },
};

export const ROLE_LABELS: Readonly<Record<Role, Label>> = {
  viewer: { vi: 'Người xem', en: 'Viewer' },
  operator: { vi: 'Điều hành viên', en: 'Operator' },
  admin: { vi: 'Quản trị viên', en: 'Administrator' },
};

/** The platform's own health conditions (HEALTH_CONDITION_CODES), as the overview names them. */
export const HEALTH_CONDITION_LABELS: Readonly<Record<HealthConditionCode, Label>> = {
  'spool-filling': { vi: 'Bộ đệm dữ liệu sắp đầy', en: 'Spool filling up' },
  'spool-full': { vi: 'Bộ đệm dữ liệu đã đầy', en: 'Spool full' },
  'store-unavailable': { vi: 'Không ghi được dữ liệu lịch sử', en: 'Time-series store unavailable' },
  'spool-consumer-stalled': { vi: 'Một bộ xử lý dữ liệu bị đình trệ', en: 'A spool consumer is stalled' },
  'broker-node-silent': { vi: 'Một nút broker không còn gửi thống kê', en: 'A broker node has gone silent' },
  'broker-node-stopped': { vi: 'Một nút broker đã dừng', en: 'A broker node has stopped' },
  'node-id-taken': { vi: 'Mã nút đang được một nút khác sử dụng', en: 'Node id held by another node' },
};

/** A label in `locale`, or the raw key when the vocabulary has no entry (a newer server's term). */
export function labelOf(table: Readonly<Record<string, Label>>, key: string, locale: ConsoleLocale): string {
  return table[key]?.[locale] ?? key;
}
