import type { Reading } from '@ioc/contracts';

interface DeviceJson {
  deviceType: string;
  domain: string;
  areaId: string;
  areaPath: readonly string[];
  location: Reading['location'];
  /** `{"deviceId":…,…,"location":{…}` — everything a device's readings share. */
  prefix: string;
}

/**
 * JSON text of a Reading, as JSON.parse reads back into an equal object (key order aside). The
 * broker encodes every accepted reading once, for its spool record, live relay and replay: ~1 µs
 * instead of ~2.4 µs for JSON.stringify, because the part a device's readings share (id, type,
 * domain, area, path, location) is encoded once per device and reused while it is unchanged.
 * Reuse is decided by content (the registry's frozen area paths by identity), so a device moved
 * to another area gets a new prefix on its next reading.
 */
export class ReadingJsonEncoder {
  private readonly devices = new Map<string, DeviceJson>();

  encode(reading: Reading): string {
    let json =
      this.prefixOf(reading) +
      ',"kind":' +
      JSON.stringify(reading.kind) +
      ',"ts":' +
      JSON.stringify(reading.ts);
    if (reading.seq !== undefined) json += ',"seq":' + JSON.stringify(reading.seq);
    if (reading.event !== undefined) json += ',"event":' + JSON.stringify(reading.event);
    return json + ',"metrics":' + JSON.stringify(reading.metrics) + '}';
  }

  private prefixOf(reading: Reading): string {
    const known = this.devices.get(reading.deviceId);
    if (known !== undefined && sameDevice(known, reading)) return known.prefix;
    const { deviceId, deviceType, domain, areaId, areaPath, location } = reading;
    const prefix = JSON.stringify({ deviceId, deviceType, domain, areaId, areaPath, location }).slice(0, -1);
    // Copies: what was encoded must not change under the cache if the caller's objects do.
    this.devices.set(deviceId, {
      deviceType,
      domain,
      areaId,
      areaPath: Object.isFrozen(areaPath) ? areaPath : [...areaPath],
      location: { lat: location.lat, lon: location.lon },
      prefix,
    });
    return prefix;
  }
}

function sameDevice(known: DeviceJson, reading: Reading): boolean {
  return (
    known.deviceType === reading.deviceType &&
    known.domain === reading.domain &&
    known.areaId === reading.areaId &&
    samePath(known.areaPath, reading.areaPath) &&
    known.location.lat === reading.location.lat &&
    known.location.lon === reading.location.lon
  );
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  // The registry hands out one frozen array per area: the same array cannot have changed.
  if (a === b && Object.isFrozen(a)) return true;
  return a.length === b.length && a.every((item, i) => item === b[i]);
}
