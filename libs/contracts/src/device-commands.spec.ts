import {
  COMMAND_ID_PATTERN,
  commandAckSchema,
  commandMessageSchema,
  commandsOf,
  DEVICE_COMMANDS,
  newCommandId,
  parseCommandAck,
  parseCommandMessage,
  validateCommand,
} from './device-commands';
import { DEVICE_TYPES, type DeviceType } from './device-types';
import { commandAckNoticeSchema } from './internal-bus';

/**
 * For each type × command: params the contract accepts, and params it refuses with the path and
 * words the refusal must name. Every command of every type must appear here (checked below), so
 * a command added without a test fails this spec.
 */
interface Case {
  good: unknown[];
  bad: [params: unknown, path: string, words: RegExp][];
}
const CASES: Record<DeviceType, Record<string, Case>> = (() => {
  const restart: Case = {
    good: [{}, undefined],
    bad: [[{ now: true }, 'params', /unknown field\(s\) "now"/]],
  };
  const setInterval = {
    good: [{ seconds: 10 }, { seconds: 3600 }, { seconds: 300 }],
    bad: [
      [{ seconds: 9 }, 'params.seconds', /at least 10 s$/],
      [{ seconds: 3601 }, 'params.seconds', /at most 3600 s$/],
      [{ seconds: 60.5 }, 'params.seconds', /must be an integer/],
      [{}, 'params.seconds', /is required/],
      [{ seconds: '60' }, 'params.seconds', /must be a number/],
    ],
  } satisfies Case;
  const station = { restart, 'set-interval': setInterval };
  return {
    'air-quality-station': station,
    'water-quality-station': station,
    'noise-meter': station,
    'weather-station': station,
    'traffic-counter': station,
    'traffic-signal': {
      'set-plan': {
        good: [{ plan: 1 }, { plan: 255 }],
        bad: [
          [{ plan: 0 }, 'params.plan', /at least 1$/],
          [{ plan: 256 }, 'params.plan', /at most 255$/],
          [{ plan: 2.5 }, 'params.plan', /integer/],
          [{}, 'params.plan', /is required/],
        ],
      },
      'set-mode': {
        good: [{ mode: 'flashing' }, { mode: 'adaptive' }, { mode: 'off' }],
        bad: [
          [{ mode: 'manual' }, 'params.mode', /must be one of "fixedTime", "actuated"/],
          [{ mode: 'disco' }, 'params.mode', /must be one of/],
        ],
      },
      restart,
    },
    'street-light': {
      dim: {
        good: [{ level: 0 }, { level: 40 }, { level: 100 }, { level: 12.5, durationSeconds: 600 }],
        bad: [
          [{ level: 140 }, 'params.level', /^params\.level must be at most 100 %$/],
          [{ level: -1 }, 'params.level', /at least 0 %$/],
          [{ level: '40' }, 'params.level', /must be a number/],
          [{}, 'params.level', /is required/],
          [{ level: 40, durationSeconds: 0 }, 'params.durationSeconds', /at least 1 s$/],
          [{ level: 40, durationSeconds: 86_401 }, 'params.durationSeconds', /at most 86400 s$/],
          [{ level: 40, colour: 'red' }, 'params', /unknown field\(s\) "colour"/],
          [[40], 'params', /must be an object/],
        ],
      },
      switch: {
        good: [{ on: true }, { on: false, durationSeconds: 3600 }],
        bad: [
          [{ on: 'yes' }, 'params.on', /must be a boolean/],
          [{}, 'params.on', /is required/],
        ],
      },
      'resume-schedule': restart,
    },
    'lighting-cabinet': {
      switch: {
        good: [{ on: false }, { on: true, durationSeconds: 60 }],
        bad: [[{ on: 1 }, 'params.on', /must be a boolean/]],
      },
      'set-schedule': {
        good: [{ schedule: { on: '18:00', off: '05:45' } }, { schedule: { on: '00:00', off: '23:59' } }],
        bad: [
          [{ schedule: { on: '18:00', off: '24:00' } }, 'params.schedule.off', /HH:MM/],
          [{ schedule: { on: '6pm', off: '05:45' } }, 'params.schedule.on', /HH:MM/],
          [{ schedule: { on: '18:00', off: '18:00' } }, 'params.schedule.off', /must differ/],
          [{ schedule: { on: '18:00' } }, 'params.schedule.off', /is required/],
          [{}, 'params.schedule', /is required/],
        ],
      },
      'resume-schedule': restart,
    },
    camera: {
      restart,
      'set-stream': {
        good: [{ fps: 25 }, { bitrate: 4096 }, { fps: 60, bitrate: 20_000 }],
        bad: [
          [{}, 'params', /give fps, bitrate or both/],
          [{ fps: 0 }, 'params.fps', /at least 1 fps$/],
          [{ bitrate: 20_001 }, 'params.bitrate', /at most 20000 kbit\/s$/],
        ],
      },
    },
  };
})();

describe('DEVICE_COMMANDS', () => {
  it('gives every device type at least one command, each with labels in both languages', () => {
    for (const type of DEVICE_TYPES) {
      expect(commandsOf(type).length).toBeGreaterThan(0);
      for (const name of commandsOf(type)) {
        const definition = (DEVICE_COMMANDS[type] as Record<string, { label: { en: string; vi: string } }>)[
          name
        ];
        expect(definition?.label.en).toMatch(/\S/);
        expect(definition?.label.vi).toMatch(/\S/);
      }
    }
  });

  it('has a test case for every command of every type', () => {
    for (const type of DEVICE_TYPES) expect(Object.keys(CASES[type]).sort()).toEqual(commandsOf(type).sort());
  });

  describe.each(DEVICE_TYPES)('%s', (type) => {
    const cases = Object.entries(CASES[type]);
    it.each(cases.flatMap(([command, { good }]) => good.map((params) => [command, params] as const)))(
      'accepts %s %j',
      (command, params) => {
        expect(validateCommand(type, command, params)).toEqual({
          ok: true,
          command,
          params: params ?? {},
        });
      },
    );
    it.each(cases.flatMap(([command, { bad }]) => bad.map((b) => [command, ...b] as const)))(
      'refuses %s %j at %s',
      (command, params, path, words) => {
        const result = validateCommand(type, command, params);
        expect(result).toMatchObject({ ok: false, reason: 'invalid-params', path });
        expect(result.ok ? '' : result.detail).toMatch(words);
      },
    );
  });

  it('refuses a command the type does not take, naming the ones it does', () => {
    expect(validateCommand('camera', 'dim', { level: 40 })).toEqual({
      ok: false,
      reason: 'unknown-command',
      detail: 'a camera takes no command "dim"; it takes restart, set-stream',
    });
    // Names are own properties only: nothing is found through the prototype.
    for (const name of ['constructor', 'toString', '__proto__']) {
      expect(validateCommand('street-light', name, {})).toMatchObject({
        ok: false,
        reason: 'unknown-command',
      });
    }
    expect(validateCommand('toaster' as DeviceType, 'restart', {})).toMatchObject({
      ok: false,
      reason: 'unknown-command',
    });
  });
});

describe('command messages', () => {
  it('makes ids of 128 random bits that match the pattern and differ', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newCommandId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(COMMAND_ID_PATTERN);
      expect(id).toHaveLength(4 + 22);
    }
    // Every base64url character position is used: the bits are spread, not stuck.
    const firstChars = new Set([...ids].map((id) => id[4]));
    expect(firstChars.size).toBeGreaterThan(32);
  });

  const message = { id: newCommandId(), command: 'dim', params: { level: 40 }, issuedAt: 1_795_741_200_000 };

  it('accepts the message the platform sends, with or without expiresAt', () => {
    expect(commandMessageSchema.parse(message)).toEqual(message);
    const expiring = { ...message, expiresAt: message.issuedAt + 60_000 };
    expect(parseCommandMessage(JSON.stringify(expiring))).toEqual({ ok: true, message: expiring });
  });

  it.each([
    ['an id without the prefix', { id: 'abc12345678' }, 'id'],
    ['an upper-case command', { command: 'Dim' }, 'command'],
    ['params that are not an object', { params: 40 }, 'params'],
    ['a fractional issuedAt', { issuedAt: 1.5 }, 'issuedAt'],
    ['an expiry before issue', { expiresAt: 1 }, 'expiresAt'],
    ['an extra field', { priority: 'high' }, '(payload)'],
  ])('refuses %s, keeping the id when it was readable', (_what, change, path) => {
    const result = parseCommandMessage(JSON.stringify({ ...message, ...change }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.detail.startsWith(`${path}:`)).toBe(true);
    expect(result.id).toBe(path === 'id' ? undefined : message.id);
  });

  it('refuses a message that is not JSON', () => {
    expect(parseCommandMessage('{"id":')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^malformed JSON/),
    });
  });
});

describe('command acks', () => {
  const id = newCommandId();

  it('accepts each outcome, with detail and ts in either form', () => {
    expect(parseCommandAck(`{"id":"${id}","outcome":"done"}`)).toEqual({
      ok: true,
      ack: { id, outcome: 'done' },
    });
    expect(
      parseCommandAck(
        new TextEncoder().encode(
          JSON.stringify({
            id,
            outcome: 'failed',
            detail: 'driver not answering',
            ts: '2026-11-27T08:00:00+07:00',
          }),
        ),
      ),
    ).toEqual({
      ok: true,
      ack: { id, outcome: 'failed', detail: 'driver not answering', ts: 1_795_741_200_000 },
    });
    expect(parseCommandAck(JSON.stringify({ id, outcome: 'rejected', ts: 1_795_741_200_000 }))).toEqual({
      ok: true,
      ack: { id, outcome: 'rejected', ts: 1_795_741_200_000 },
    });
  });

  it('escapes control and bidirectional characters in the detail', () => {
    const result = parseCommandAck(JSON.stringify({ id, outcome: 'failed', detail: 'a\u202eb\nc' }));
    expect(result).toEqual({ ok: true, ack: { id, outcome: 'failed', detail: 'a\\u202eb\\u000ac' } });
  });

  it.each([
    ['not JSON', '{"id":', 'malformed-json', /JSON/],
    [
      'a duplicate key',
      `{"id":"${id}","outcome":"done","outcome":"failed"}`,
      'duplicate-key',
      /"outcome" appears more than once/,
    ],
    ['an array', '[]', 'schema-violation', /^\(payload\) must be a JSON object$/],
    ['no id', '{"outcome":"done"}', 'schema-violation', /^id is required$/],
    [
      'a made-up id',
      '{"id":"42","outcome":"done"}',
      'schema-violation',
      /^id: must be the id of the command answered/,
    ],
    [
      'an unknown outcome',
      `{"id":"${id}","outcome":"ok"}`,
      'schema-violation',
      /^outcome must be one of "done", "failed", "rejected"$/,
    ],
    [
      'an unknown field',
      `{"id":"${id}","outcome":"done","result":1}`,
      'schema-violation',
      /unknown field\(s\) "result"/,
    ],
    [
      'a long detail',
      JSON.stringify({ id, outcome: 'failed', detail: 'x'.repeat(201) }),
      'schema-violation',
      /^detail must be at most 200 characters$/,
    ],
    [
      'a local time',
      `{"id":"${id}","outcome":"done","ts":"2026-11-27T08:00:00"}`,
      'schema-violation',
      /^ts must be an ISO-8601/,
    ],
  ])('refuses %s', (_what, payload, reason, detail) => {
    const result = parseCommandAck(payload);
    expect(result).toMatchObject({ ok: false, reason });
    expect(result.ok ? '' : result.detail).toMatch(detail);
  });

  it('has a schema that agrees with the parser', () => {
    expect(commandAckSchema.safeParse({ id, outcome: 'done' }).success).toBe(true);
    expect(commandAckSchema.safeParse({ id, outcome: 'done', extra: 1 }).success).toBe(false);
  });

  it('carries the notice on the internal bus, refusing a notice with an unknown outcome', () => {
    const notice = { deviceId: 'sl-1', domain: 'lighting', commandId: id, outcome: 'done', receivedAt: 1 };
    expect(commandAckNoticeSchema.parse(notice)).toEqual(notice);
    expect(commandAckNoticeSchema.safeParse({ ...notice, outcome: 'ok' }).success).toBe(false);
    expect(commandAckNoticeSchema.safeParse({ ...notice, domain: 'water' }).success).toBe(false);
    expect(commandAckNoticeSchema.safeParse({ ...notice, commandId: 'x' }).success).toBe(false);
  });
});
