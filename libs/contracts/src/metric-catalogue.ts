/**
 * Every metric the platform accepts: its unit (UCUM code plus a display symbol), the physical
 * range outside which a value cannot be a real measurement, and what it means. Names follow the
 * FIWARE smart data models (AirQualityObserved, TrafficFlowObserved, Streetlight,
 * StreetlightControlCabinet, WaterQualityObserved, NoiseLevelObserved, WeatherObserved) where
 * they have one.
 *
 * Units chosen once for the whole platform: gas and particulate concentrations in µg/m³ (CO
 * included, as in VN_AQI, Decision 1459/QĐ-TCMT); fractions (humidity, occupancy, dim level)
 * as 0–1; power of a single lamp in W, of a cabinet in kW.
 */
export type MetricKind = 'number' | 'integer' | 'boolean' | 'enum' | 'text';

interface MetricBase {
  /** UCUM code (https://ucum.org), `1` for dimensionless. */
  ucum: string;
  /** Unit symbol for display. */
  unit: string;
  description: string;
}
export interface NumericMetric extends MetricBase {
  kind: 'number' | 'integer';
  min: number;
  max: number;
}
export interface BooleanMetric extends MetricBase {
  kind: 'boolean';
}
export interface EnumMetric extends MetricBase {
  kind: 'enum';
  values: readonly string[];
}
export interface TextMetric extends MetricBase {
  kind: 'text';
  maxLength: number;
  /** Characters a value may contain: free text from a device never carries markup or controls. */
  pattern: RegExp;
}
export type MetricDefinition = NumericMetric | BooleanMetric | EnumMetric | TextMetric;

const num = (ucum: string, unit: string, min: number, max: number, description: string): NumericMetric => ({
  kind: 'number',
  ucum,
  unit,
  min,
  max,
  description,
});
const int = (ucum: string, unit: string, min: number, max: number, description: string): NumericMetric => ({
  kind: 'integer',
  ucum,
  unit,
  min,
  max,
  description,
});
const bool = (description: string): BooleanMetric => ({ kind: 'boolean', ucum: '1', unit: '', description });
const oneOf = (values: readonly string[], description: string): EnumMetric => ({
  kind: 'enum',
  ucum: '1',
  unit: '',
  values,
  description,
});

const text = (maxLength: number, pattern: RegExp, description: string): TextMetric => ({
  kind: 'text',
  ucum: '1',
  unit: '',
  maxLength,
  pattern,
  description,
});

/** Version strings such as `2.4.1`, `v1.0.0-rc.2+b7`, `FW 3.1 (build 45)`: no quotes, markup or controls. */
const VERSION_TEXT = /^[A-Za-z0-9][A-Za-z0-9 ._+:~()/-]*$/;

const CONCENTRATION = 'ug/m3';

export const METRIC_CATALOGUE = {
  // Air quality (QCVN 05:2023/BTNMT, VN_AQI)
  pm25: num(CONCENTRATION, 'µg/m³', 0, 1000, 'Fine particulate matter (PM2.5) mass concentration'),
  pm10: num(CONCENTRATION, 'µg/m³', 0, 2000, 'Particulate matter (PM10) mass concentration'),
  no2: num(CONCENTRATION, 'µg/m³', 0, 20000, 'Nitrogen dioxide concentration'),
  so2: num(CONCENTRATION, 'µg/m³', 0, 20000, 'Sulphur dioxide concentration'),
  co: num(CONCENTRATION, 'µg/m³', 0, 500000, 'Carbon monoxide concentration (µg/m³, as in VN_AQI)'),
  o3: num(CONCENTRATION, 'µg/m³', 0, 5000, 'Ozone concentration'),
  temperature: num('Cel', '°C', -40, 70, 'Air or water temperature'),
  relativeHumidity: num('1', '', 0, 1, 'Relative humidity as a fraction (0–1)'),
  // Surface water (QCVN 08:2023/BTNMT)
  ph: num('[pH]', 'pH', 0, 14, 'Acidity of the water'),
  dissolvedOxygen: num('mg/L', 'mg/L', 0, 25, 'Dissolved oxygen'),
  turbidity: num('[NTU]', 'NTU', 0, 4000, 'Turbidity'),
  cod: num('mg/L', 'mg/L', 0, 2000, 'Chemical oxygen demand'),
  // Noise (QCVN 26)
  laeq: num('dB', 'dB(A)', 20, 140, 'A-weighted equivalent continuous sound level over the period'),
  lamax: num('dB', 'dB(A)', 20, 150, 'Maximum A-weighted sound level over the period'),
  // Weather
  windSpeed: num('m/s', 'm/s', 0, 80, 'Mean wind speed'),
  windDirection: num('deg', '°', 0, 360, 'Direction the wind blows from, clockwise from north'),
  precipitation: num('mm', 'mm', 0, 500, 'Rainfall since the previous report'),
  atmosphericPressure: num('hPa', 'hPa', 800, 1100, 'Atmospheric pressure at station level'),
  solarRadiation: num('W/m2', 'W/m²', 0, 1500, 'Global solar irradiance'),
  // Traffic flow
  intensity: int('1', 'vehicles', 0, 20000, 'Vehicles counted in the period, all classes'),
  intensityMotorcycle: int('1', 'vehicles', 0, 20000, 'Motorcycles counted in the period'),
  intensityCar: int('1', 'vehicles', 0, 10000, 'Cars counted in the period'),
  intensityBus: int('1', 'vehicles', 0, 2000, 'Buses counted in the period'),
  intensityLorry: int('1', 'vehicles', 0, 5000, 'Lorries counted in the period'),
  averageVehicleSpeed: num('km/h', 'km/h', 0, 250, 'Mean speed of the vehicles counted'),
  occupancy: num('1', '', 0, 1, 'Fraction of the period the detector was occupied'),
  periodSeconds: int('s', 's', 1, 3600, 'Length of the counting period'),
  // Traffic signal
  phase: int('1', '', 0, 32, 'Signal plan stage currently shown'),
  signalMode: oneOf(['fixedTime', 'actuated', 'adaptive', 'manual', 'flashing', 'off'], 'Control mode'),
  signalFault: bool('The controller reports a fault (lamp, detector or conflict)'),
  // Street lighting
  on: bool('The lamp is lit'),
  illuminanceLevel: num('1', '', 0, 1, 'Dim level as a fraction of full output (0–1)'),
  activePower: num('W', 'W', 0, 2000, 'Active power drawn by the lamp'),
  energyConsumed: num('kW.h', 'kWh', 0, 10_000_000, 'Energy consumed since installation (cumulative)'),
  lampFault: oneOf(
    ['none', 'defectiveLamp', 'columnIssue', 'brokenLantern', 'powerLoss'],
    'Lamp fault state',
  ),
  // Lighting control cabinet
  cabinetActivePower: num('kW', 'kW', 0, 1000, 'Active power drawn by all circuits of the cabinet'),
  cabinetEnergyConsumed: num('kW.h', 'kWh', 0, 100_000_000, 'Energy consumed by the cabinet (cumulative)'),
  voltageL1: num('V', 'V', 0, 480, 'Phase 1 voltage'),
  voltageL2: num('V', 'V', 0, 480, 'Phase 2 voltage'),
  voltageL3: num('V', 'V', 0, 480, 'Phase 3 voltage'),
  powerFactor: num('1', '', 0, 1, 'Power factor'),
  circuitsOn: int('1', 'circuits', 0, 64, 'Lighting circuits switched on'),
  doorOpen: bool('The cabinet door is open'),
  // Camera heartbeat
  online: bool('The device is connected and working'),
  fps: num('/s', 'fps', 0, 240, 'Frames per second being delivered'),
  bitrate: num('kbit/s', 'kbit/s', 0, 200_000, 'Video stream bitrate'),
  // Camera detection events
  count: int('1', '', 0, 100_000, 'Objects counted by the detection'),
  confidence: num('1', '', 0, 1, 'Detector confidence (0–1)'),
  congestionLevel: num('1', '', 0, 1, 'Congestion estimate (0 free flow – 1 standstill)'),
  lane: int('1', '', 0, 16, 'Lane number, 0 when unknown'),
  vehicleType: oneOf(['motorcycle', 'car', 'bus', 'lorry', 'bicycle', 'other'], 'Vehicle class detected'),
  peopleCount: int('1', 'people', 0, 100_000, 'People estimated in view'),
  // Device health (status topic)
  batteryLevel: num('1', '', 0, 1, 'Battery charge as a fraction (0–1)'),
  rssi: num('dB[mW]', 'dBm', -150, 0, 'Received signal strength'),
  firmwareVersion: text(32, VERSION_TEXT, 'Firmware version reported by the device'),
  // Derived by the platform, never accepted from a device (DeviceTypeContract.derived): the hourly
  // Vietnamese air quality index of an air-quality station, computed by @ioc/aqi.
  aqi: int(
    '1',
    '',
    0,
    500,
    'Hourly VN_AQI (Decision 1459/QĐ-TCMT, 12 Nov 2019): the highest pollutant sub-index, an integer 0–500, for the hour ending at ts; computed by the platform',
  ),
  aqiDominant: oneOf(
    ['pm25', 'pm10', 'o3', 'co', 'so2', 'no2'],
    'Pollutant whose sub-index is the hourly VN_AQI (Decision 1459/QĐ-TCMT); computed by the platform',
  ),
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRIC_CATALOGUE;
export const METRIC_NAMES = Object.keys(METRIC_CATALOGUE) as MetricName[];

export function isMetricName(value: string): value is MetricName {
  return Object.prototype.hasOwnProperty.call(METRIC_CATALOGUE, value);
}
