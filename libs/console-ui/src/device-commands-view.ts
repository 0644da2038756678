import { type ApiClient, type I18n, formatDateTime } from '@ioc/console-data';
import {
  type CommandRecordBody,
  type CommandState,
  type DeviceType,
  commandDefinition,
} from '@ioc/contracts';
import { DEVICE_PANEL_MESSAGES as M } from './device-messages';
import { el, errorText, setText } from './device-dom';
import { formatMetricValue } from './value-format';
import {
  type CommandField,
  CONFIRMATION_QUESTIONS,
  checkCommandForm,
  confirmationOf,
  localFormRefusal,
  commandChoices,
  commandFields,
  describeParams,
  mergeCommandRecord,
  paramLabel,
  RECENT_COMMANDS_LIMIT,
} from './command-model';

/** The device panel's commands: the form (operator, admin) and the recent commands. */
export interface CommandSection {
  /** A live `command` event: the record moves on to acknowledged / failed / timed-out. */
  applyCommand(command: CommandRecordBody): void;
  destroy(): void;
}

const STATE_KEYS: Readonly<Record<CommandState, keyof (typeof M)['vi']>> = {
  sent: 'stateSent',
  acknowledged: 'stateAcknowledged',
  failed: 'stateFailed',
  'timed-out': 'stateTimedOut',
};

/**
 * The commands of a device: for `canCommand` (operator, admin) a form
 * (`[data-testid=command-form]`) with the type's commands and inputs built from their params
 * schema, checked with validateCommand before sending (the refusal shown, nothing sent), then
 * `api.sendCommand`; and the last RECENT_COMMANDS_LIMIT commands (`[data-command-id][data-state]`),
 * each moving on live from `sent` to its answer. A viewer sees the list only.
 */
export function createCommandSection(
  container: HTMLElement,
  deps: { api: ApiClient; i18n: I18n; deviceId: string; type: DeviceType; canCommand: boolean },
): CommandSection {
  const { api, i18n, deviceId, type } = deps;
  const t = (key: keyof (typeof M)['vi'], params?: Record<string, string | number>): string =>
    i18n.t(M, key, params);
  let records: CommandRecordBody[] = [];
  let destroyed = false;

  const root = el('section', { className: 'ioc-commands', attrs: { 'data-testid': 'device-commands' } });
  root.append(el('h3', { className: 'ioc-device-section-title', text: t('commandsTitle') }));
  const choices = commandChoices(type, i18n.locale);

  if (!deps.canCommand) {
    root.append(el('p', { className: 'ioc-device-muted', text: t('commandReadOnly') }));
  } else if (choices.length === 0) {
    root.append(el('p', { className: 'ioc-device-muted', text: t('commandNone') }));
  } else {
    root.append(buildForm());
  }

  const historyTitle = el('h4', { className: 'ioc-device-subtitle', text: t('commandHistory') });
  const list = el('ul', { className: 'ioc-command-list', attrs: { 'data-testid': 'command-history' } });
  const listStatus = el('p', { className: 'ioc-device-muted', attrs: { role: 'status' } });
  root.append(historyTitle, listStatus, list);
  container.append(root);

  function renderList(): void {
    const byId = new Map<string, HTMLLIElement>();
    for (const child of Array.from(list.children)) {
      const id = (child as HTMLElement).dataset['commandId'];
      if (id !== undefined) byId.set(id, child as HTMLLIElement);
    }
    const wanted = new Set(records.map((r) => r.id));
    for (const [id, item] of byId) if (!wanted.has(id)) item.remove();
    records.forEach((record, index) => {
      let item = byId.get(record.id);
      if (item === undefined) {
        item = el('li', { className: 'ioc-command', attrs: { 'data-command-id': record.id } });
        item.append(
          el('span', { className: 'ioc-command-name' }),
          el('span', { className: 'ioc-command-params' }),
          el('span', { className: 'ioc-command-state' }),
          el('span', { className: 'ioc-command-time' }),
          el('span', { className: 'ioc-command-detail' }),
        );
      }
      if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
      item.dataset['state'] = record.state;
      const [name, params, state, time, detail] = Array.from(item.children);
      setText(name, commandDefinition(type, record.command)?.label[i18n.locale] ?? record.command);
      setText(params, describeParams(record.params));
      setText(state, `${t(STATE_KEYS[record.state])}${record.late === true ? ` ${t('late')}` : ''}`);
      setText(
        time,
        `${formatDateTime(record.completedAt ?? record.createdAt, i18n.locale)}${
          record.requestedBy === undefined ? '' : ` · ${t('by', { user: record.requestedBy })}`
        }`,
      );
      setText(detail, record.detail ?? '');
    });
    setText(listStatus, records.length === 0 ? t('commandHistoryEmpty') : '');
    listStatus.hidden = records.length !== 0;
  }

  function buildForm(): HTMLFormElement {
    const form = el('form', {
      className: 'ioc-command-form',
      attrs: { 'data-testid': 'command-form', novalidate: '' },
    });
    const select = el('select', { attrs: { name: 'command', 'data-testid': 'command-select' } });
    for (const choice of choices)
      select.append(el('option', { text: choice.label, attrs: { value: choice.name } }));
    const fieldsBox = el('div', { className: 'ioc-command-fields' });
    const description = el('p', { className: 'ioc-device-muted ioc-command-description' });
    const submit = el('button', {
      text: t('commandSend'),
      attrs: { type: 'submit', 'data-testid': 'command-send' },
    });
    const message = el('p', {
      className: 'ioc-command-message',
      attrs: { role: 'alert', 'data-testid': 'command-error' },
    });
    message.hidden = true;
    form.append(
      el('label', {
        className: 'ioc-command-field',
        children: [el('span', { text: t('commandSelect') }), select],
      }),
      description,
      fieldsBox,
      submit,
      message,
    );
    let fields: CommandField[] = [];

    const renderFields = (): void => {
      fieldsBox.replaceChildren();
      fields = commandFields(type, select.value);
      // The contract's descriptions are English (docs and help text): shown in English only.
      setText(
        description,
        i18n.locale === 'en' ? (commandDefinition(type, select.value)?.description ?? '') : '',
      );
      description.hidden = i18n.locale !== 'en';
      for (const field of fields) fieldsBox.append(inputFor(field));
    };

    const inputFor = (field: CommandField): HTMLElement => {
      const caption = `${paramLabel(field.path, i18n.locale)}${field.kind === 'number' && field.unit !== undefined ? ` (${field.unit})` : ''}${
        field.required ? '' : ` ${t('optional')}`
      }`;
      let input: HTMLInputElement | HTMLSelectElement;
      switch (field.kind) {
        case 'number':
          input = el('input', {
            attrs: { type: 'number', inputmode: 'decimal', step: field.integer ? '1' : 'any' },
          });
          if (field.min !== undefined) input.setAttribute('min', String(field.min));
          if (field.max !== undefined) input.setAttribute('max', String(field.max));
          break;
        case 'boolean':
          input = el('select');
          input.append(
            el('option', { text: t('choose'), attrs: { value: '' } }),
            el('option', { text: t('on'), attrs: { value: 'true' } }),
            el('option', { text: t('off'), attrs: { value: 'false' } }),
          );
          break;
        case 'enum':
          input = el('select');
          input.append(el('option', { text: t('choose'), attrs: { value: '' } }));
          for (const option of field.options) {
            const text =
              field.path === 'mode' ? formatMetricValue('signalMode', option, i18n.locale).text : option;
            input.append(el('option', { text, attrs: { value: option } }));
          }
          break;
        case 'time':
          input = el('input', { attrs: { type: 'time' } });
          break;
        case 'text':
          input = el('input', { attrs: { type: 'text' } });
          break;
      }
      input.name = field.path;
      input.dataset['param'] = field.path;
      if (field.required) input.setAttribute('aria-required', 'true');
      return el('label', {
        className: 'ioc-command-field',
        children: [el('span', { text: caption }), input],
      });
    };

    const showMessage = (text: string): void => {
      setText(message, text);
      message.hidden = text === '';
    };

    select.addEventListener('change', () => {
      showMessage('');
      renderFields();
    });
    /** The inline confirmation step of a destructive command (confirmationOf); null when none is open. */
    const confirmBox = el('div', {
      className: 'ioc-command-confirm',
      attrs: { role: 'group', 'data-testid': 'command-confirm' },
    });
    confirmBox.hidden = true;
    form.insertBefore(confirmBox, message);
    let pending: { command: string; params: Record<string, unknown> } | null = null;

    const closeConfirm = (focusSend: boolean): void => {
      pending = null;
      confirmBox.hidden = true;
      confirmBox.replaceChildren();
      submit.hidden = false;
      if (focusSend) submit.focus();
    };

    const send = (command: string, params: Record<string, unknown>): void => {
      showMessage('');
      submit.disabled = true;
      setText(submit, t('commandSending'));
      api
        .sendCommand(deviceId, { command, params, timeoutSeconds: 30 })
        .then((record) => {
          if (destroyed) return;
          records = mergeCommandRecord(records, record);
          renderList();
        })
        .catch((error: unknown) => {
          if (!destroyed) showMessage(t('commandFailed', { detail: errorText(error) }));
        })
        .finally(() => {
          submit.disabled = false;
          setText(submit, t('commandSend'));
        });
    };

    const openConfirm = (question: string, command: string, params: Record<string, unknown>): void => {
      pending = { command, params };
      const yes = el('button', {
        text: t('confirmYes'),
        className: 'ioc-button ioc-button--danger',
        attrs: { type: 'button', 'data-testid': 'command-confirm-yes' },
      });
      const no = el('button', {
        text: t('confirmNo'),
        className: 'ioc-button',
        attrs: { type: 'button', 'data-testid': 'command-confirm-no' },
      });
      yes.addEventListener('click', () => {
        const chosen = pending;
        closeConfirm(true);
        if (chosen !== null) send(chosen.command, chosen.params);
      });
      no.addEventListener('click', () => closeConfirm(true));
      confirmBox.replaceChildren(
        el('p', { className: 'ioc-command-confirm-question', text: question }),
        yes,
        no,
      );
      confirmBox.hidden = false;
      submit.hidden = true;
      no.focus();
    };

    form.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || pending === null) return;
      // Escape cancels the confirmation only (the panel's own Escape closes the panel).
      event.stopPropagation();
      event.preventDefault();
      closeConfirm(true);
    });
    select.addEventListener('change', () => closeConfirm(false));
    fieldsBox.addEventListener('input', () => {
      if (pending !== null) closeConfirm(false);
    });

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (pending !== null) return;
      const values: Record<string, string> = {};
      for (const input of Array.from(
        fieldsBox.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-param]'),
      )) {
        values[input.dataset['param'] ?? input.name] = input.value;
      }
      const local = localFormRefusal(fields, values, i18n.locale);
      if (local !== null) {
        showMessage(local.message);
        fieldsBox.querySelector<HTMLElement>(`[data-param="${CSS.escape(local.path)}"]`)?.focus();
        return;
      }
      const checked = checkCommandForm(type, select.value, values);
      if (!checked.ok) {
        // Rules across fields only (the local check covers each field): the contract's text.
        showMessage(t('commandRefused', { detail: checked.detail }));
        return;
      }
      showMessage('');
      const confirmation = confirmationOf(type, checked.command, checked.params);
      if (confirmation !== null) {
        openConfirm(CONFIRMATION_QUESTIONS[confirmation][i18n.locale], checked.command, checked.params);
        return;
      }
      send(checked.command, checked.params);
    });
    renderFields();
    return form;
  }

  api
    .commands(deviceId, RECENT_COMMANDS_LIMIT)
    .then((body) => {
      if (destroyed) return;
      for (const record of body.items) records = mergeCommandRecord(records, record);
      renderList();
    })
    .catch((error: unknown) => {
      if (destroyed) return;
      setText(listStatus, t('commandsError', { detail: errorText(error) }));
      listStatus.hidden = false;
    });
  renderList();

  return {
    applyCommand(command) {
      if (command.deviceId !== deviceId) return;
      const next = mergeCommandRecord(records, command);
      if (next === records) return;
      records = next;
      renderList();
    },
    destroy() {
      destroyed = true;
      root.remove();
    },
  };
}
