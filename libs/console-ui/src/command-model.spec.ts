import type { CommandRecordBody } from '@ioc/contracts';
import {
  checkCommandForm,
  commandChoices,
  commandFields,
  describeParams,
  mergeCommandRecord,
  paramsFromForm,
  CONFIRMATION_QUESTIONS,
  confirmationOf,
  localFormRefusal,
} from './command-model';

describe('commandFields', () => {
  it('builds a street light’s dim form from the contract: level 0–100 %, optional duration', () => {
    expect(commandFields('street-light', 'dim')).toEqual([
      { kind: 'number', path: 'level', required: true, min: 0, max: 100, integer: false, unit: '%' },
      {
        kind: 'number',
        path: 'durationSeconds',
        required: false,
        min: 1,
        max: 86_400,
        integer: true,
        unit: 's',
      },
    ]);
  });
  it('reads booleans, enumerations, nested local times and commands without params', () => {
    expect(commandFields('lighting-cabinet', 'switch')[0]).toEqual({
      kind: 'boolean',
      path: 'on',
      required: true,
    });
    expect(commandFields('traffic-signal', 'set-mode')).toEqual([
      {
        kind: 'enum',
        path: 'mode',
        required: true,
        options: ['fixedTime', 'actuated', 'adaptive', 'flashing', 'off'],
      },
    ]);
    expect(commandFields('lighting-cabinet', 'set-schedule')).toEqual([
      { kind: 'time', path: 'schedule.on', required: true },
      { kind: 'time', path: 'schedule.off', required: true },
    ]);
    expect(commandFields('camera', 'restart')).toEqual([]);
    expect(commandFields('camera', 'no-such')).toEqual([]);
  });
  it('lists the type’s commands with their labels', () => {
    expect(commandChoices('street-light', 'vi').map((c) => c.label)).toEqual([
      'Điều chỉnh độ sáng',
      'Bật/tắt đèn',
      'Trở lại lịch vận hành',
    ]);
  });
});

describe('paramsFromForm and checkCommandForm', () => {
  it('reads numbers (decimal comma too), booleans and nested paths; leaves empty inputs out', () => {
    const fields = [...commandFields('street-light', 'dim')];
    expect(paramsFromForm(fields, { level: '40,5', durationSeconds: '' })).toEqual({ level: 40.5 });
    expect(paramsFromForm(commandFields('street-light', 'switch'), { on: 'false' })).toEqual({ on: false });
    expect(
      paramsFromForm(commandFields('lighting-cabinet', 'set-schedule'), {
        'schedule.on': '18:00',
        'schedule.off': '05:45',
      }),
    ).toEqual({ schedule: { on: '18:00', off: '05:45' } });
  });

  it('refuses what the contract refuses, naming the field', () => {
    expect(checkCommandForm('street-light', 'dim', { level: '140' })).toMatchObject({
      ok: false,
      reason: 'invalid-params',
      path: 'params.level',
    });
    expect(checkCommandForm('street-light', 'dim', { level: 'abc' })).toMatchObject({
      ok: false,
      path: 'params.level',
    });
    expect(checkCommandForm('street-light', 'dim', {})).toMatchObject({ ok: false, path: 'params.level' });
    expect(checkCommandForm('camera', 'set-stream', {})).toMatchObject({
      ok: false,
      reason: 'invalid-params',
    });
    expect(
      checkCommandForm('lighting-cabinet', 'set-schedule', {
        'schedule.on': '18:00',
        'schedule.off': '18:00',
      }),
    ).toMatchObject({ ok: false, path: 'params.schedule.off' });
    expect(checkCommandForm('street-light', 'dim', { level: '40' })).toEqual({
      ok: true,
      command: 'dim',
      params: { level: 40 },
    });
  });
});

describe('mergeCommandRecord', () => {
  const record = (id: string, state: CommandRecordBody['state'], createdAt: string): CommandRecordBody => ({
    id,
    deviceId: 'd1',
    command: 'dim',
    params: { level: 40 },
    state,
    createdAt,
    deadline: createdAt,
  });

  it('adds newest first and keeps at most the limit', () => {
    let list: CommandRecordBody[] = [];
    for (let i = 0; i < 12; i++) {
      list = mergeCommandRecord(
        list,
        record(`cmd_aaaaaaa${i.toString(16)}`, 'sent', new Date(i * 1000).toISOString()),
      );
    }
    expect(list).toHaveLength(10);
    expect(list[0].id).toBe('cmd_aaaaaaab');
  });

  it('moves a command on to its answer and never back to sent', () => {
    const sent = record('cmd_bbbbbbbb', 'sent', '2026-11-30T07:00:00Z');
    const acked = { ...sent, state: 'acknowledged' as const, outcome: 'done' as const };
    const list = mergeCommandRecord([sent], acked);
    expect(list[0].state).toBe('acknowledged');
    // the POST's 202 answer arriving after the live acknowledgement does not undo it
    expect(mergeCommandRecord(list, sent)).toBe(list);
    // a late acknowledgement after a timeout replaces it, as the server records it
    const timedOut = mergeCommandRecord([sent], { ...sent, state: 'timed-out' });
    expect(mergeCommandRecord(timedOut, { ...acked, late: true })[0]).toMatchObject({
      state: 'acknowledged',
      late: true,
    });
  });

  it('describes params in one line', () => {
    expect(describeParams({ level: 40, schedule: { on: '18:00' }, on: true })).toBe(
      'level=40, schedule.on=18:00, on=true',
    );
  });
});

describe('confirmationOf', () => {
  it('asks before switching a whole cabinet off, restarting, or taking a junction’s signals off', () => {
    expect(confirmationOf('lighting-cabinet', 'switch', { on: false })).toBe('cabinet-off');
    expect(confirmationOf('lighting-cabinet', 'switch', { on: true })).toBeNull();
    expect(confirmationOf('camera', 'restart', {})).toBe('restart');
    expect(confirmationOf('air-quality-station', 'restart', {})).toBe('restart');
    expect(confirmationOf('traffic-signal', 'set-mode', { mode: 'off' })).toBe('signal-off');
    expect(confirmationOf('traffic-signal', 'set-mode', { mode: 'flashing' })).toBe('signal-flashing');
    expect(confirmationOf('traffic-signal', 'set-mode', { mode: 'adaptive' })).toBeNull();
    expect(confirmationOf('street-light', 'dim', { level: 40 })).toBeNull();
    expect(CONFIRMATION_QUESTIONS['cabinet-off'].vi).toBe('Xác nhận tắt toàn bộ tủ?');
  });
});

describe('localFormRefusal', () => {
  it('refuses in Vietnamese or English naming the field by its label, with the limit and unit', () => {
    const dim = commandFields('street-light', 'dim');
    expect(localFormRefusal(dim, { level: '140' }, 'vi')).toEqual({
      path: 'level',
      message: 'Mức sáng: tối đa 100 %.',
    });
    expect(localFormRefusal(dim, { level: '140' }, 'en')?.message).toBe('Level must be at most 100 %.');
    expect(localFormRefusal(dim, { level: '-1' }, 'vi')?.message).toBe('Mức sáng: tối thiểu 0 %.');
    expect(localFormRefusal(dim, { level: '' }, 'vi')?.message).toBe('Mức sáng: bắt buộc nhập.');
    expect(localFormRefusal(dim, { level: 'abc' }, 'vi')?.message).toBe('Mức sáng: phải là một số.');
    expect(localFormRefusal(dim, { level: '40,5' }, 'vi')).toBeNull();
    expect(localFormRefusal(dim, { level: '40', durationSeconds: '0' }, 'vi')?.message).toBe(
      'Thời gian giữ: tối thiểu 1 s.',
    );
    const sw = commandFields('lighting-cabinet', 'switch');
    expect(localFormRefusal(sw, {}, 'vi')?.message).toBe('Bật/tắt: bắt buộc nhập.');
    expect(localFormRefusal(sw, {}, 'en')?.message).toBe('On/off is required.');
    expect(
      localFormRefusal(commandFields('traffic-signal', 'set-plan'), { plan: '2.5' }, 'vi')?.message,
    ).toBe('Kế hoạch pha: phải là số nguyên.');
    expect(
      localFormRefusal(commandFields('lighting-cabinet', 'set-schedule'), { 'schedule.on': '25:00' }, 'vi')
        ?.message,
    ).toBe('Giờ bật: nhập giờ dạng HH:MM.');
    // Whatever the local check passes, the contract passes too (or refuses across fields).
    expect(checkCommandForm('street-light', 'dim', { level: '40,5' })).toMatchObject({ ok: true });
  });
});
