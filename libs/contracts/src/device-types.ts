import type { Domain } from './domains';
import type { MetricName } from './metric-catalogue';

/** What one kind of device reports: its domain and the metrics of each message kind. */
export interface DeviceTypeContract {
  domain: Domain;
  description: string;
  /** FIWARE smart data model the telemetry maps to. */
  fiwareType: string;
  telemetry: { required: readonly MetricName[]; optional: readonly MetricName[] };
  /** Discrete events the device may raise on `.../event`, each with its own metrics. */
  events: Readonly<Record<string, { required: readonly MetricName[]; optional: readonly MetricName[] }>>;
}

const noEvents = {} as const;

export const DEVICE_TYPE_CONTRACTS = {
  'air-quality-station': {
    domain: 'env',
    description: 'Ambient air-quality monitoring station',
    fiwareType: 'AirQualityObserved',
    telemetry: {
      required: ['pm25', 'pm10'],
      optional: ['no2', 'so2', 'co', 'o3', 'temperature', 'relativeHumidity'],
    },
    events: noEvents,
  },
  'water-quality-station': {
    domain: 'env',
    description: 'Automatic surface-water quality station',
    fiwareType: 'WaterQualityObserved',
    telemetry: { required: ['ph'], optional: ['dissolvedOxygen', 'turbidity', 'cod', 'temperature'] },
    events: noEvents,
  },
  'noise-meter': {
    domain: 'env',
    description: 'Environmental noise meter',
    fiwareType: 'NoiseLevelObserved',
    telemetry: { required: ['laeq'], optional: ['lamax'] },
    events: noEvents,
  },
  'weather-station': {
    domain: 'env',
    description: 'Automatic weather station',
    fiwareType: 'WeatherObserved',
    telemetry: {
      required: ['temperature'],
      optional: [
        'relativeHumidity',
        'windSpeed',
        'windDirection',
        'precipitation',
        'atmosphericPressure',
        'solarRadiation',
      ],
    },
    events: noEvents,
  },
  'traffic-counter': {
    domain: 'traffic',
    description: 'Traffic flow counter (loop, radar or video) at a road section',
    fiwareType: 'TrafficFlowObserved',
    telemetry: {
      required: ['intensity'],
      optional: [
        'intensityMotorcycle',
        'intensityCar',
        'intensityBus',
        'intensityLorry',
        'averageVehicleSpeed',
        'occupancy',
        'periodSeconds',
      ],
    },
    events: noEvents,
  },
  'traffic-signal': {
    domain: 'traffic',
    description: 'Traffic signal controller at a junction',
    fiwareType: 'TrafficSignal',
    telemetry: { required: ['phase', 'signalMode', 'signalFault'], optional: [] },
    events: noEvents,
  },
  'street-light': {
    domain: 'lighting',
    description: 'Individually controlled street light',
    fiwareType: 'Streetlight',
    telemetry: {
      required: ['on'],
      optional: ['illuminanceLevel', 'activePower', 'energyConsumed', 'lampFault'],
    },
    events: noEvents,
  },
  'lighting-cabinet': {
    domain: 'lighting',
    description: 'Street-lighting control cabinet feeding several circuits',
    fiwareType: 'StreetlightControlCabinet',
    telemetry: {
      required: ['cabinetActivePower'],
      optional: [
        'cabinetEnergyConsumed',
        'voltageL1',
        'voltageL2',
        'voltageL3',
        'powerFactor',
        'circuitsOn',
        'doorOpen',
      ],
    },
    events: noEvents,
  },
  camera: {
    domain: 'camera',
    description: 'Traffic or public-order camera with on-board analytics',
    fiwareType: 'Device',
    telemetry: { required: ['online'], optional: ['fps', 'bitrate'] },
    events: {
      vehicleCount: { required: ['count'], optional: ['lane', 'vehicleType'] },
      congestion: { required: ['congestionLevel'], optional: ['lane'] },
      accident: { required: ['confidence'], optional: ['lane'] },
      wrongWay: { required: ['confidence'], optional: ['lane', 'vehicleType'] },
      crowd: { required: ['peopleCount'], optional: ['confidence'] },
    },
  },
} as const satisfies Record<string, DeviceTypeContract>;

export type DeviceType = keyof typeof DEVICE_TYPE_CONTRACTS;
export const DEVICE_TYPES = Object.keys(DEVICE_TYPE_CONTRACTS) as DeviceType[];

/** Metrics any device may report on its `.../status` topic, besides `online`. */
export const STATUS_METRICS = [
  'online',
  'batteryLevel',
  'rssi',
  'firmwareVersion',
] as const satisfies readonly MetricName[];

export function isDeviceType(value: string): value is DeviceType {
  return Object.prototype.hasOwnProperty.call(DEVICE_TYPE_CONTRACTS, value);
}

export function domainOf(type: DeviceType): Domain {
  return DEVICE_TYPE_CONTRACTS[type].domain;
}

/** Every metric a device of this type can report, whatever the message kind. */
export function metricsOf(type: DeviceType): MetricName[] {
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[type];
  const names = new Set<MetricName>([...contract.telemetry.required, ...contract.telemetry.optional]);
  for (const event of Object.values(contract.events)) {
    for (const name of [...event.required, ...event.optional]) names.add(name);
  }
  return [...names];
}
