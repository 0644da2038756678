import {
  DEVICE_TYPE_LABELS,
  DOMAIN_LABELS,
  MARKER_STATES,
  formatNumber,
  type I18n,
  type MarkerState,
} from '@ioc/console-data';
import { DEVICE_TYPE_CONTRACTS, DEVICE_TYPES, DOMAINS, type DeviceType, type Domain } from '@ioc/contracts';
import L from 'leaflet';
import type { AreaTree } from '../area-tree';
import type { MapFilter } from '../map-device';
import { MAP_MESSAGES, MARKER_STATE_LABELS, STATE_SYMBOLS } from '../messages';
import './controls.css';

/** The filter control and what the map tells it. */
export interface FilterControl {
  control: L.Control;
  /** Refills the area select (tree order, indented by depth). */
  setAreas(tree: AreaTree): void;
  /** Shows `filter` (when set by code, not by the person). */
  show(filter: MapFilter): void;
  /** "Showing shown/total devices". */
  setCounts(shown: number, total: number): void;
}

/**
 * The filter (top right, `[data-testid=map-filter]`): domain and state check boxes (none checked =
 * all; checked = only those), a device-type select and an area select (the area's whole subtree).
 * Native form controls, so it works with the keyboard (Tab, Space, arrows). Every change calls
 * `onChange` with the complete new filter (the search text field of the filter is kept as is).
 */
export function createFilterControl(i18n: I18n, onChange: (filter: MapFilter) => void): FilterControl {
  const container = L.DomUtil.create('div', 'ioc-map-control ioc-map-filter');
  container.dataset['testid'] = 'map-filter';
  L.DomEvent.disableClickPropagation(container);
  L.DomEvent.disableScrollPropagation(container);
  const details = document.createElement('details');
  details.open = true;
  const summary = document.createElement('summary');
  const form = document.createElement('form');
  form.addEventListener('submit', (event) => event.preventDefault());
  details.append(summary, form);
  container.append(details);

  let current: MapFilter = {};
  let tree: AreaTree | null = null;
  let counts: [number, number] | null = null;
  const domainBoxes = new Map<Domain, HTMLInputElement>();
  const stateBoxes = new Map<MarkerState, HTMLInputElement>();
  const typeSelect = document.createElement('select');
  typeSelect.name = 'type';
  const areaSelect = document.createElement('select');
  areaSelect.name = 'area';
  const status = document.createElement('output');
  status.className = 'ioc-map-filter__count';
  status.setAttribute('aria-live', 'polite');
  const reset = document.createElement('button');
  reset.type = 'button';
  reset.className = 'ioc-map-filter__reset';

  const read = (): MapFilter => {
    const domains = DOMAINS.filter((d) => domainBoxes.get(d)?.checked);
    const states = MARKER_STATES.filter((s) => stateBoxes.get(s)?.checked);
    const filter: MapFilter = {};
    if (domains.length > 0) filter.domains = domains;
    if (states.length > 0) filter.states = states;
    if (typeSelect.value !== '') filter.types = [typeSelect.value as DeviceType];
    if (areaSelect.value !== '') filter.areaId = areaSelect.value;
    if (current.text) filter.text = current.text;
    return filter;
  };
  const changed = (): void => {
    current = read();
    onChange(current);
  };
  form.addEventListener('change', changed);
  reset.addEventListener('click', () => {
    current = current.text ? { text: current.text } : {};
    show(current);
    onChange(current);
  });

  const fillAreas = (): void => {
    const locale = i18n.locale;
    const all = option('', MAP_MESSAGES[locale].filterAllAreas);
    const options = (tree?.ordered() ?? [])
      .filter(({ depth }) => depth > 0 || (tree?.size ?? 0) === 1)
      .map(({ area, depth }) => option(area.id, `${'\u00a0\u00a0'.repeat(Math.max(0, depth - 1))}${area.name}`));
    areaSelect.replaceChildren(all, ...options);
    areaSelect.value = current.areaId ?? '';
  };
  const draw = (): void => {
    const locale = i18n.locale;
    const t = MAP_MESSAGES[locale];
    summary.textContent = t.filter;
    const domainSet = fieldset(t.filterDomains);
    for (const domain of DOMAINS) {
      const box = domainBoxes.get(domain) ?? checkbox('domain', domain);
      domainBoxes.set(domain, box);
      domainSet.append(labelled(box, DOMAIN_LABELS[domain][locale]));
    }
    const types = [option('', t.filterAllTypes)];
    for (const domain of DOMAINS) {
      const group = document.createElement('optgroup');
      group.label = DOMAIN_LABELS[domain][locale];
      for (const type of DEVICE_TYPES) {
        if (DEVICE_TYPE_CONTRACTS[type].domain === domain) {
          group.append(option(type, DEVICE_TYPE_LABELS[type][locale]));
        }
      }
      types.push(group as unknown as HTMLOptionElement);
    }
    typeSelect.replaceChildren(...types);
    typeSelect.value = current.types?.[0] ?? '';
    const stateSet = fieldset(t.filterStates);
    for (const state of MARKER_STATES) {
      const box = stateBoxes.get(state) ?? checkbox('state', state);
      stateBoxes.set(state, box);
      const symbol = STATE_SYMBOLS[state];
      stateSet.append(labelled(box, `${MARKER_STATE_LABELS[state][locale]}${symbol ? ` ${symbol}` : ''}`));
    }
    reset.textContent = t.filterReset;
    fillAreas();
    form.replaceChildren(
      domainSet,
      selectRow(t.filterTypes, typeSelect),
      selectRow(t.filterArea, areaSelect),
      stateSet,
      reset,
      status,
    );
    drawCounts();
  };
  const drawCounts = (): void => {
    status.textContent =
      counts === null
        ? ''
        : i18n.t(MAP_MESSAGES, 'filterShown', {
            shown: formatNumber(counts[0], i18n.locale, 0),
            total: formatNumber(counts[1], i18n.locale, 0),
          });
  };
  const show = (filter: MapFilter): void => {
    current = { ...filter };
    for (const [domain, box] of domainBoxes) box.checked = filter.domains?.includes(domain) ?? false;
    for (const [state, box] of stateBoxes) box.checked = filter.states?.includes(state) ?? false;
    typeSelect.value = filter.types?.length === 1 ? filter.types[0] : '';
    areaSelect.value = filter.areaId ?? '';
  };
  draw();
  i18n.onChange(draw);
  const Control = L.Control.extend({ onAdd: () => container });
  return {
    control: new Control({ position: 'topright' }),
    setAreas(next) {
      tree = next;
      fillAreas();
    },
    show,
    setCounts(shown, total) {
      counts = [shown, total];
      drawCounts();
    },
  };
}

function checkbox(name: string, value: string): HTMLInputElement {
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.name = name;
  box.value = value;
  return box;
}

function labelled(input: HTMLElement, text: string): HTMLElement {
  const label = document.createElement('label');
  const span = document.createElement('span');
  span.textContent = text;
  label.append(input, span);
  return label;
}

function fieldset(legendText: string): HTMLFieldSetElement {
  const set = document.createElement('fieldset');
  const legend = document.createElement('legend');
  legend.textContent = legendText;
  set.append(legend);
  return set;
}

function selectRow(text: string, select: HTMLSelectElement): HTMLElement {
  const label = document.createElement('label');
  label.className = 'ioc-map-filter__select';
  const span = document.createElement('span');
  span.textContent = text;
  label.append(span, select);
  return label;
}

function option(value: string, text: string): HTMLOptionElement {
  const el = document.createElement('option');
  el.value = value;
  el.textContent = text;
  return el;
}
