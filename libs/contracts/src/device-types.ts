import type { Domain } from './domains';
import type { MetricName } from './metric-catalogue';

/** What one kind of device reports: its domain and the metrics of each message kind. */
export interface DeviceTypeContract {
  domain: Domain;
  description: string;
  /** FIWARE smart data model the telemetry maps to. */
  fiwareType: string;
  telemetry: { required: readonly MetricName[]; optional: readonly MetricName[] };
  /**
   * Metrics the PLATFORM derives for a device of this type and stores with its readings (kind
   * `telemetry`), e.g. the hourly VN_AQI of an air-quality station. Never accepted from a device:
   * they are not in `telemetry`, so a device that publishes one has it refused like any metric
   * of another kind of message (`schema-violation`, `metric` set), its other metrics kept. They are
   * stored, shown by `/latest` and queryable in history (`queryableMetricsOf`).
   */
  derived: readonly MetricName[];
  /** Discrete events the device may raise on `.../event`, each with its own metrics. */
  events: Readonly<Record<string, { required: readonly MetricName[]; optional: readonly MetricName[] }>>;
  /**
   * How often a device of this type reports in the field, seconds: the cadence operators configure
   * for it (sources on each entry). The simulator does not model it: each of its devices reports
   * once per round, every `devices ÷ rate` seconds (30 s for 304 devices at the CLI's default 10/s).
   */
  reportingIntervalSeconds: number;
  /**
   * Silence after which a device of this type counts as offline (`silence-timeout`), seconds:
   * SILENCE_TIMEOUT_INTERVALS reporting intervals, so one or two lost reports never flip a device;
   * a device may override it (`Device.silenceTimeoutSeconds`).
   */
  silenceTimeoutSeconds: number;
}

/**
 * Reporting intervals a device may miss before it counts as offline: 3, so two reports lost in a
 * row (a QoS 0 message dropped, a device re-trying its uplink) never make it flap.
 */
export const SILENCE_TIMEOUT_INTERVALS = 3;

const noEvents = {} as const;
const noDerived = [] as const;

export const DEVICE_TYPE_CONTRACTS = {
  'air-quality-station': {
    domain: 'env',
    description: 'Ambient air-quality monitoring station',
    fiwareType: 'AirQualityObserved',
    telemetry: {
      required: ['pm25', 'pm10'],
      optional: ['no2', 'so2', 'co', 'o3', 'temperature', 'relativeHumidity'],
    },
    /** Hourly VN_AQI (Decision 1459/QĐ-TCMT), computed from its telemetry by @ioc/aqi. */
    derived: ['aqi', 'aqiDominant'],
    events: noEvents,
    /** Circular 10/2021/TT-BTNMT: automatic continuous air stations transmit every 5 minutes. */
    reportingIntervalSeconds: 300,
    silenceTimeoutSeconds: 900,
  },
  'water-quality-station': {
    domain: 'env',
    description: 'Automatic surface-water quality station',
    fiwareType: 'WaterQualityObserved',
    telemetry: { required: ['ph'], optional: ['dissolvedOxygen', 'turbidity', 'cod', 'temperature'] },
    derived: noDerived,
    events: noEvents,
    /** Circular 10/2021/TT-BTNMT: automatic water stations transmit every 5 minutes. */
    reportingIntervalSeconds: 300,
    silenceTimeoutSeconds: 900,
  },
  'noise-meter': {
    domain: 'env',
    description: 'Environmental noise meter',
    fiwareType: 'NoiseLevelObserved',
    telemetry: { required: ['laeq'], optional: ['lamax'] },
    derived: noDerived,
    events: noEvents,
    /** LAeq over 1-minute intervals, the usual logging period of class-1 noise monitors. */
    reportingIntervalSeconds: 60,
    silenceTimeoutSeconds: 180,
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
    derived: noDerived,
    events: noEvents,
    /** WMO automatic weather stations: 10-minute means. */
    reportingIntervalSeconds: 600,
    silenceTimeoutSeconds: 1800,
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
    derived: noDerived,
    events: noEvents,
    /** 1-minute counting periods (the simulator's `periodSeconds` covers the same idea). */
    reportingIntervalSeconds: 60,
    silenceTimeoutSeconds: 180,
  },
  'traffic-signal': {
    domain: 'traffic',
    description: 'Traffic signal controller at a junction',
    fiwareType: 'TrafficSignal',
    telemetry: { required: ['phase', 'signalMode', 'signalFault'], optional: [] },
    derived: noDerived,
    events: noEvents,
    /** controller status heartbeat once a minute, besides its changes. */
    reportingIntervalSeconds: 60,
    silenceTimeoutSeconds: 180,
  },
  'street-light': {
    domain: 'lighting',
    description: 'Individually controlled street light',
    fiwareType: 'Streetlight',
    telemetry: {
      required: ['on'],
      optional: ['illuminanceLevel', 'activePower', 'energyConsumed', 'lampFault'],
    },
    derived: noDerived,
    events: noEvents,
    /** lamp controllers (CMS/NEMA nodes) report every 15 minutes. */
    reportingIntervalSeconds: 900,
    silenceTimeoutSeconds: 2700,
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
    derived: noDerived,
    events: noEvents,
    /** cabinet energy meters report every 5 minutes. */
    reportingIntervalSeconds: 300,
    silenceTimeoutSeconds: 900,
  },
  camera: {
    domain: 'camera',
    description: 'Traffic or public-order camera with on-board analytics',
    fiwareType: 'Device',
    telemetry: { required: ['online'], optional: ['fps', 'bitrate'] },
    derived: noDerived,
    events: {
      vehicleCount: { required: ['count'], optional: ['lane', 'vehicleType'] },
      congestion: { required: ['congestionLevel'], optional: ['lane'] },
      accident: { required: ['confidence'], optional: ['lane'] },
      wrongWay: { required: ['confidence'], optional: ['lane', 'vehicleType'] },
      crowd: { required: ['peopleCount'], optional: ['confidence'] },
    },
    /** camera heartbeat telemetry once a minute. */
    reportingIntervalSeconds: 60,
    silenceTimeoutSeconds: 180,
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

/**
 * Seconds of silence after which `device` counts as offline: its own `silenceTimeoutSeconds`
 * when set, else its type's default (DEVICE_TYPE_CONTRACTS[type].silenceTimeoutSeconds).
 */
export function silenceTimeoutSecondsOf(device: {
  type: DeviceType;
  silenceTimeoutSeconds?: number;
}): number {
  return device.silenceTimeoutSeconds ?? DEVICE_TYPE_CONTRACTS[device.type].silenceTimeoutSeconds;
}

/** Metrics the platform derives for a device of this type (`DeviceTypeContract.derived`). */
export function derivedMetricsOf(type: DeviceType): MetricName[] {
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[type];
  return [...contract.derived];
}

/** Every metric a device of this type can report, whatever the message kind (derived ones excluded). */
export function metricsOf(type: DeviceType): MetricName[] {
  const contract: DeviceTypeContract = DEVICE_TYPE_CONTRACTS[type];
  const names = new Set<MetricName>([...contract.telemetry.required, ...contract.telemetry.optional]);
  for (const event of Object.values(contract.events)) {
    for (const name of [...event.required, ...event.optional]) names.add(name);
  }
  return [...names];
}
