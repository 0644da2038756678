import { type Device, deviceTopic } from '@ioc/contracts';
import { DeviceRegistry, loadSeeds } from '@ioc/registry';
import { type PlatformOptions, type RunningPlatform, eventually, startPlatform } from '@ioc/testing';
import { DeviceClients, getJson } from './clients';

const registry = new DeviceRegistry(loadSeeds());
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const VN_OFFSET = 7 * HOUR;

interface SeriesBody {
  metric: string;
  group: { by: string; key: string };
  resolution: string;
  points: Array<{ ts: number; value: number; count?: number; deviceId?: string }>;
}
interface HistoryBody {
  series: SeriesBody[];
}

/** Two air stations in one district and one elsewhere, hourly PM readings over three local days. */
function pickStations(): { district: string; inside: Device[]; outside: Device } {
  const stations = registry.listDevices({ type: 'air-quality-station' });
  for (const candidate of stations) {
    const district = registry.areaPath(candidate.areaId)[1] as string;
    const inside = registry.listDevices({ areaId: district, type: 'air-quality-station' });
    const outside = stations.find((s) => registry.areaPath(s.areaId)[1] !== district);
    if (inside.length >= 2 && outside) return { district, inside: inside.slice(0, 2), outside };
  }
  throw new Error('the seeds lack two air stations in one district');
}

export function defineHistoryTests(platformOptions: () => PlatformOptions): void {
  let platform: RunningPlatform;
  let publisher: DeviceClients;
  const { district, inside, outside } = pickStations();
  // Three whole local (UTC+7) days, ending at a local midnight some days ago.
  const lastMidnightLocal = Math.floor((Date.now() + VN_OFFSET) / DAY) * DAY - VN_OFFSET;
  const start = lastMidnightLocal - 5 * DAY;
  const end = start + 3 * DAY;
  const readings: Array<{ device: Device; ts: number; pm25: number; pm10: number }> = [];
  [...inside, outside].forEach((device, d) => {
    for (let ts = start; ts < end; ts += HOUR) {
      const hour = (ts - start) / HOUR;
      // Two readings an hour for the first station, one for the others: the weighted mean matters.
      const times = d === 0 ? [ts, ts + HOUR / 2] : [ts];
      for (const t of times)
        readings.push({
          device,
          ts: t,
          pm25: 10 + ((hour * 7 + d * 13) % 40),
          pm10: 20 + ((hour * 3 + d) % 60),
        });
    }
  });
  const expectedDailyMean = (devices: Device[], metric: 'pm25' | 'pm10') =>
    [0, 1, 2].map((day) => {
      const inDay = readings.filter(
        (r) => devices.includes(r.device) && r.ts >= start + day * DAY && r.ts < start + (day + 1) * DAY,
      );
      return {
        ts: start + day * DAY,
        value: inDay.reduce((s, r) => s + r[metric], 0) / inDay.length,
        count: inDay.length,
      };
    });
  // Status reports of the first station: every 6 hours of the first local day, battery draining.
  const statuses = [0, 1, 2, 3].map((i) => ({
    ts: start + i * 6 * HOUR + 60_000,
    batteryLevel: 0.9 - i * 0.1,
    rssi: -60 - i * 5,
  }));
  const url = (query: string) => `${platform.httpUrl}/api/v1/history?${query}&from=${start}&to=${end}`;

  beforeAll(async () => {
    platform = await startPlatform({ ...platformOptions(), env: { IOC_HISTORY_MAX_POINTS: '200' } });
    publisher = new DeviceClients(
      platform.mqttUrl,
      (id) => platform.deviceSecret(id),
      `e2e-history-${process.pid}`,
    );
    for (let i = 0; i < readings.length; i += 50) {
      await Promise.all(
        readings
          .slice(i, i + 50)
          .map((r) =>
            publisher.publishAsync(
              deviceTopic('env', r.device.id, 'telemetry'),
              JSON.stringify({ ts: r.ts, metrics: { pm25: r.pm25, pm10: r.pm10 } }),
              { qos: 1 },
            ),
          ),
      );
    }
    await Promise.all(
      statuses.map((s) =>
        publisher.publishAsync(
          deviceTopic('env', inside[0]!.id, 'status'),
          JSON.stringify({ ts: s.ts, metrics: { online: true, batteryLevel: s.batteryLevel, rssi: s.rssi } }),
          { qos: 1 },
        ),
      ),
    );
    const last = readings[readings.length - 1]!;
    const lastStatus = statuses[statuses.length - 1]!;
    await eventually(
      async () => {
        const { body } = await getJson(
          await platform.admin(),
          `${platform.httpUrl}/api/v1/devices/${last.device.id}/latest`,
        );
        const { body: status } = await getJson(
          await platform.admin(),
          `${platform.httpUrl}/api/v1/devices/${inside[0]!.id}/latest`,
        );
        return (body['metrics'] as Record<string, { ts: number }> | undefined)?.['pm25']?.ts === last.ts &&
          (status['metrics'] as Record<string, { ts: number }> | undefined)?.['batteryLevel']?.ts ===
            lastStatus.ts
          ? true
          : undefined;
      },
      20_000,
      'all readings stored',
    );
  }, 90_000);

  afterAll(async () => {
    await publisher?.endAll();
    await platform?.stop();
  });

  const close = (
    actual: SeriesBody['points'],
    expected: Array<{ ts: number; value: number; count: number }>,
  ) => {
    expect(actual.map((p) => p.ts)).toEqual(expected.map((p) => p.ts));
    actual.forEach((p, i) => expect(p.value).toBeCloseTo(expected[i]!.value, 9));
  };

  it('gives daily means per area on local (Asia/Ho_Chi_Minh) midnights, weighted by point count', async () => {
    const { status, body } = await getJson(
      await platform.admin(),
      url(
        `areas=${district}&metrics=pm25,pm10&type=air-quality-station&groupBy=area&every=1d&fn=mean&resolution=raw`,
      ),
    );
    expect(status).toBe(200);
    const series = (body as unknown as HistoryBody).series;
    expect(series.map((s) => `${s.metric}:${s.group.key}:${s.resolution}`)).toEqual([
      `pm25:${district}:raw`,
      `pm10:${district}:raw`,
    ]);
    close(series[0]!.points, expectedDailyMean(inside, 'pm25'));
    close(series[1]!.points, expectedDailyMean(inside, 'pm10'));
    for (const p of series[0]!.points) expect((p.ts + VN_OFFSET) % DAY).toBe(0);
  });

  it('answers from the hourly rollup once it is built, with the same figures, and says so', async () => {
    const body = await eventually(
      async () => {
        const { body: b } = await getJson(
          await platform.admin(),
          url(`areas=${district}&metrics=pm25&type=air-quality-station&groupBy=area&every=1d`),
        );
        const s = (b as unknown as HistoryBody).series[0];
        return s && s.resolution === '1h' && s.points.length === 3
          ? (b as unknown as HistoryBody)
          : undefined;
      },
      30_000,
      'the 1h rollup to answer',
    );
    close(body.series[0]!.points, expectedDailyMean(inside, 'pm25'));
    const oneDay = `${platform.httpUrl}/api/v1/history?devices=${inside[0]!.id}&metrics=pm25&every=15m&fn=max&from=${start}&to=${start + DAY}`;
    const minute = (await getJson(await platform.admin(), oneDay)).body as unknown as HistoryBody;
    expect(minute.series[0]!.resolution).toBe('1m');
    const maxPer15m = [...Array(96).keys()]
      .map((w) => {
        const inWindow = readings.filter(
          (r) => r.device === inside[0] && r.ts >= start + w * 900_000 && r.ts < start + (w + 1) * 900_000,
        );
        return { ts: start + w * 900_000, values: inWindow.map((r) => r.pm25) };
      })
      .filter((w) => w.values.length > 0);
    expect(minute.series[0]!.points.map((p) => [p.ts, p.value])).toEqual(
      maxPer15m.map((w) => [w.ts, Math.max(...w.values)]),
    );
  });

  it('groups by device and by device type', async () => {
    const byDevice = (
      await getJson(
        await platform.admin(),
        url(
          `devices=${inside.map((d) => d.id).join(',')},${outside.id}&metrics=pm25&every=1d&resolution=raw`,
        ),
      )
    ).body as unknown as HistoryBody;
    expect(byDevice.series.map((s) => s.group.key)).toEqual([...inside.map((d) => d.id), outside.id]);
    close(byDevice.series[2]!.points, expectedDailyMean([outside], 'pm25'));
    const byType = (
      await getJson(
        await platform.admin(),
        url(
          `devices=${inside.map((d) => d.id).join(',')},${outside.id}&metrics=pm25&groupBy=type&every=1d&resolution=raw`,
        ),
      )
    ).body as unknown as HistoryBody;
    expect(byType.series.map((s) => s.group)).toEqual([{ by: 'type', key: 'air-quality-station' }]);
    close(byType.series[0]!.points, expectedDailyMean([...inside, outside], 'pm25'));
  });

  it('serves the same answer as CSV', async () => {
    const response = await fetch(
      url(
        `areas=${district}&metrics=pm25&type=air-quality-station&groupBy=area&every=1d&resolution=raw&format=csv`,
      ),
      { headers: (await platform.admin()).headers },
    );
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...rows] = (await response.text()).trim().split('\r\n');
    expect(header).toBe('metric,unit,group_by,group,resolution,time,ts,value,count,device,event');
    const expected = expectedDailyMean(inside, 'pm25');
    expect(rows).toHaveLength(expected.length);
    rows.forEach((row, i) => {
      const cells = row.split(',');
      expect(cells.slice(0, 5)).toEqual(['pm25', 'µg/m³', 'area', district, 'raw']);
      expect(cells[5]).toMatch(/T00:00:00\.000\+07:00$/);
      expect(Number(cells[6])).toBe(expected[i]!.ts);
      expect(Number(cells[7])).toBeCloseTo(expected[i]!.value, 9);
    });
  });

  it('refuses a device or metric named twice with a 400 naming the parameter', async () => {
    const id = inside[0]!.id;
    for (const [query, parameter] of [
      [`devices=${id},${id}&metrics=pm25`, 'devices'],
      [`devices=${id}&metrics=pm25,pm10,pm25`, 'metrics'],
    ] as const) {
      const { status, body } = await getJson(await platform.admin(), url(query));
      expect({ status, parameter: body['parameter'] }).toEqual({ status: 400, parameter });
      expect(String(body['message'])).toContain('named twice');
    }
  });

  it('names the device of every CSV row of a series grouped by device, windows included', async () => {
    const device = inside[0]!;
    const response = await fetch(url(`devices=${device.id}&metrics=pm25&every=1d&fn=mean&format=csv`), {
      headers: (await platform.admin()).headers,
    });
    const [, ...rows] = (await response.text()).trim().split('\r\n');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.split(',')[9]).toBe(device.id);
  });

  it('refuses answers beyond the point limit with a 400 naming the parameter', async () => {
    const tooManyWindows = await getJson(
      await platform.admin(),
      url(`areas=${district}&metrics=pm25&every=1m`),
    );
    expect(tooManyWindows).toMatchObject({ status: 400, body: { parameter: 'every' } });
    const tooManyRaw = await getJson(
      await platform.admin(),
      url(`areas=${district}&metrics=pm25&type=air-quality-station&groupBy=none`),
    );
    expect(tooManyRaw).toMatchObject({ status: 400, body: { parameter: 'to' } });
  });

  it('counts windows that hold data against the point limit, not empty windows', async () => {
    // 3 devices × 1-minute windows over one day: 4 320 windows, far over the limit of 200, but
    // only 48 + 24 + 24 of them hold data. Refused with a 400 naming `every` before the fix.
    const devices = [...inside, outside];
    const { status, body } = await getJson(
      await platform.admin(),
      `${platform.httpUrl}/api/v1/history?devices=${devices.map((d) => d.id).join(',')}&metrics=pm25&every=1m&fn=max&from=${start}&to=${start + DAY}`,
    );
    expect({ status, parameter: body['parameter'] }).toEqual({ status: 200, parameter: undefined });
    const series = (body as unknown as HistoryBody).series;
    expect(series.map((s) => s.group.key)).toEqual(devices.map((d) => d.id));
    series.forEach((s, i) => {
      const expected = readings
        .filter((r) => r.device === devices[i] && r.ts < start + DAY)
        .map((r) => [Math.floor(r.ts / 60_000) * 60_000, r.pm25]);
      expect(s.points.map((p) => [p.ts, p.value])).toEqual(expected);
    });
  });

  it('refuses a window too long to compute (past 2^53 ms) with a 400 naming every, not a 500', async () => {
    const { status, body } = await getJson(
      await platform.admin(),
      url(`devices=${inside[0]!.id}&metrics=pm25&every=104249992d`),
    );
    expect({ status, parameter: body['parameter'] }).toEqual({ status: 400, parameter: 'every' });
    expect(String(body['message'])).toContain('the longest window is 3650d');
  });

  it.each([
    ['/api/v1/history', `devices=DEVICE&metrics=pm25&foo=1`],
    ['/api/v1/devices/DEVICE/history', 'metric=pm25&foo=1'],
    ['/api/v1/devices', 'type=air-quality-station&foo=1'],
  ])('refuses an unknown parameter on %s with a 400 naming it', async (path, query) => {
    const id = inside[0]!.id;
    const { status, body } = await getJson(
      await platform.admin(),
      `${platform.httpUrl}${path.replace('DEVICE', id)}?${query.replace('DEVICE', id)}`,
    );
    expect({ status, parameter: body['parameter'] }).toEqual({ status: 400, parameter: 'foo' });
  });

  it('answers the history of status metrics (batteryLevel, rssi) like any other metric', async () => {
    const device = inside[0]!;
    const { status, body } = await getJson(
      await platform.admin(),
      `${platform.httpUrl}/api/v1/devices/${device.id}/history?metric=batteryLevel&from=${start}&to=${end}`,
    );
    expect(status).toBe(200);
    expect((body['points'] as SeriesBody['points']).map((p) => [p.ts, p.value])).toEqual(
      statuses.map((s) => [s.ts, s.batteryLevel]),
    );
    const daily = (
      await getJson(
        await platform.admin(),
        url(`devices=${device.id}&metrics=batteryLevel,rssi&every=1d&fn=min&resolution=raw`),
      )
    ).body as unknown as HistoryBody;
    expect(daily.series.map((s) => [s.metric, s.points.map((p) => [p.ts, p.value])])).toEqual([
      ['batteryLevel', [[start, Math.min(...statuses.map((s) => s.batteryLevel))]]],
      ['rssi', [[start, Math.min(...statuses.map((s) => s.rssi))]]],
    ]);
  });

  it.each([
    ['devices', "aq-tn-001' OR '1'='1"],
    ['devices', 'aq-tn-001;DROP MEASUREMENT readings'],
    ['devices', 'a'.repeat(5000)],
    ['devices', 'no-such-device'],
    ['metrics', 'pm25" FROM readings; --'],
    ['metrics', '.*'],
    ['areas', "tay-ninh' OR deviceId =~ /.*/"],
    ['areas', '(.*)'],
    ['from', "1'; DROP DATABASE ioc; --"],
    ['every', '1h; DROP'],
    ['every', '104249992d'],
    ['to', '99999999999999999'],
    ['from', '2026-11-27'],
  ])('refuses a hostile %s value with a 400 naming it', async (parameter, value) => {
    const base: Record<string, string> = { metrics: 'pm25', devices: inside[0]!.id };
    if (parameter === 'areas') delete base['devices'];
    const params = new URLSearchParams({ ...base, [parameter]: value });
    const { status, body } = await getJson(
      await platform.admin(),
      `${platform.httpUrl}/api/v1/history?${params.toString()}`,
    );
    expect({ status, parameter: body['parameter'] }).toEqual({ status: 400, parameter });
  });

  it('answers hostile device ids in paths with 404, never 500', async () => {
    for (const id of ["x' OR '1'='1", 'x"; DROP', '..%2F..%2Fetc', 'a'.repeat(3000)]) {
      const { status } = await getJson(
        await platform.admin(),
        `${platform.httpUrl}/api/v1/devices/${encodeURIComponent(id)}/history?metric=pm25`,
      );
      expect(status).toBe(404);
    }
  });
}
