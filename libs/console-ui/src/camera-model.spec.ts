import {
  describeCameraEvent,
  eventFromReading,
  eventsFromLatest,
  linkText,
  mergeCameraEvents,
  safeLink,
} from './camera-model';

describe('safeLink', () => {
  it('keeps http, https and rtsp URLs', () => {
    expect(safeLink('https://cam.tayninh.gov.vn/live/c1.m3u8')).toEqual({
      kind: 'link',
      href: 'https://cam.tayninh.gov.vn/live/c1.m3u8',
      credentialsHidden: false,
    });
    expect(safeLink(' rtsp://10.0.0.5:554/stream1 ')).toEqual({
      kind: 'link',
      href: 'rtsp://10.0.0.5:554/stream1',
      credentialsHidden: false,
    });
    expect(safeLink('http://10.0.0.5/snap.jpg')).toMatchObject({ kind: 'link' });
  });
  it('strips a user name and password from the href and says so in the text', () => {
    for (const [raw, href] of [
      ['rtsp://admin:S3cret@10.0.0.5:554/stream1', 'rtsp://10.0.0.5:554/stream1'],
      ['rtsp://admin@10.0.0.5/s', 'rtsp://10.0.0.5/s'],
      ['https://u:p%40ss@cam.example/snap.jpg', 'https://cam.example/snap.jpg'],
    ] as const) {
      const link = safeLink(raw);
      expect(link).toEqual({ kind: 'link', href, credentialsHidden: true });
      expect(JSON.stringify(link)).not.toMatch(/admin|S3cret|p%40ss/);
      expect(linkText('Xem trực tiếp', link, '(thông tin đăng nhập đã ẩn)')).toBe(
        'Xem trực tiếp (thông tin đăng nhập đã ẩn)',
      );
    }
    expect(linkText('Ảnh chụp', safeLink('http://10.0.0.5/snap.jpg'), '(x)')).toBe('Ảnh chụp');
  });
  it('refuses javascript:, data:, relative and malformed URLs, and says when none is set', () => {
    for (const raw of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      'data:text/html,<script>x</script>',
      '/snap.jpg',
      'http//x',
      'vbscript:x',
      'file:///etc/passwd',
    ]) {
      expect(safeLink(raw)).toEqual({ kind: 'invalid' });
    }
    expect(safeLink(undefined)).toEqual({ kind: 'absent' });
    expect(safeLink('  ')).toEqual({ kind: 'absent' });
  });
});

describe('camera events', () => {
  const t1 = Date.UTC(2026, 10, 30, 7, 0, 0);
  it('reads events from latest values: metrics of the same event and time are one event', () => {
    const events = eventsFromLatest({
      online: { value: true, ts: t1, unit: '' },
      confidence: { value: 0.9, ts: t1, unit: '', event: 'accident' },
      lane: { value: 2, ts: t1, unit: '', event: 'accident' },
      peopleCount: { value: 120, ts: t1 - 1000, unit: 'people', event: 'crowd' },
    });
    expect(events).toHaveLength(2);
    expect(events.find((e) => e.event === 'accident')?.metrics).toEqual({ confidence: 0.9, lane: 2 });
  });

  it('takes event readings only, and keeps the last five, newest first, once each', () => {
    expect(eventFromReading({ kind: 'telemetry', ts: t1, metrics: { fps: 25 } })).toBeNull();
    let events = mergeCameraEvents([], []);
    for (let i = 0; i < 7; i++) {
      const e = eventFromReading({
        kind: 'event',
        event: 'wrongWay',
        ts: t1 + i * 1000,
        metrics: { confidence: 0.8 },
      });
      events = mergeCameraEvents(events, e === null ? [] : [e]);
    }
    expect(events.map((e) => e.ts)).toEqual([6, 5, 4, 3, 2].map((i) => t1 + i * 1000));
    const again = mergeCameraEvents(events, [{ event: 'wrongWay', ts: t1 + 6000, metrics: { lane: 1 } }]);
    expect(again).toHaveLength(5);
    expect(again[0].metrics).toEqual({ confidence: 0.8, lane: 1 });
  });

  it('describes an event by its key value', () => {
    expect(describeCameraEvent({ event: 'accident', ts: t1, metrics: { confidence: 0.93 } }, 'vi')).toEqual({
      label: 'Tai nạn',
      time: '14:00:00 30/11/2026',
      value: '93 %',
    });
    expect(describeCameraEvent({ event: 'crowd', ts: t1, metrics: { peopleCount: 1500 } }, 'vi').value).toBe(
      '1.500 người',
    );
    expect(
      describeCameraEvent({ event: 'congestion', ts: t1, metrics: { congestionLevel: 0.7 } }, 'en').value,
    ).toBe('70 %');
  });
});
