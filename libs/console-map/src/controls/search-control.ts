import type { I18n } from '@ioc/console-data';
import L from 'leaflet';
import { MAP_MESSAGES } from '../messages';
import './controls.css';

/** One search result as the list shows it: a device, or an area (a district, ward or commune). */
export interface SearchHit {
  kind: 'device' | 'area';
  id: string;
  name: string;
  /** Short state text (a label, not a colour). */
  detail: string;
}

/**
 * The device and area search (top left, `input[data-testid=map-search]`): an ARIA 1.2 combobox
 * with a listbox of matches by id or name, diacritics-insensitive (`search`): areas first
 * (`li[data-area-id]`), then devices (`li[data-device-id]`). ArrowDown/ArrowUp move
 * through the matches (`aria-activedescendant`), Enter picks the active one (or the first),
 * Escape closes the list, then clears the field; a click picks too. `onPick`: a device is focused and
 * selected, an area's devices (or its centre) brought into view.
 */
export function createSearchControl(
  i18n: I18n,
  search: (query: string) => SearchHit[],
  onPick: (hit: SearchHit) => void,
): { control: L.Control; dispose: () => void } {
  const uid = Math.random().toString(36).slice(2);
  const container = L.DomUtil.create('div', 'ioc-map-control ioc-map-search');
  L.DomEvent.disableClickPropagation(container);
  L.DomEvent.disableScrollPropagation(container);
  const input = document.createElement('input');
  input.type = 'search';
  input.autocomplete = 'off';
  input.spellcheck = false;
  input.dataset['testid'] = 'map-search';
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  const list = document.createElement('ul');
  list.id = `ioc-map-search-list-${uid}`;
  list.setAttribute('role', 'listbox');
  list.hidden = true;
  input.setAttribute('aria-controls', list.id);
  const status = document.createElement('div');
  status.className = 'ioc-visually-hidden';
  status.setAttribute('aria-live', 'polite');
  container.append(input, list, status);

  let hits: SearchHit[] = [];
  let active = -1;

  const drawTexts = (): void => {
    const text = MAP_MESSAGES[i18n.locale].search;
    input.placeholder = text;
    input.setAttribute('aria-label', text);
    list.setAttribute('aria-label', text);
  };
  const close = (): void => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };
  const setActive = (index: number): void => {
    active = index;
    const options = list.children;
    for (let i = 0; i < options.length; i++) {
      options[i].setAttribute('aria-selected', String(i === index));
    }
    const option = options[index] as HTMLElement | undefined;
    if (option === undefined) input.removeAttribute('aria-activedescendant');
    else {
      input.setAttribute('aria-activedescendant', option.id);
      option.scrollIntoView({ block: 'nearest' });
    }
  };
  const update = (): void => {
    hits = input.value.trim() === '' ? [] : search(input.value);
    const t = MAP_MESSAGES[i18n.locale];
    list.replaceChildren(
      ...hits.map((hit, i) => {
        const li = document.createElement('li');
        li.id = `ioc-map-search-${uid}-${i}`;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        if (hit.kind === 'area') li.dataset['areaId'] = hit.id;
        else li.dataset['deviceId'] = hit.id;
        const name = document.createElement('span');
        name.className = 'ioc-map-search__name';
        name.textContent = hit.name;
        const detail = document.createElement('span');
        detail.className = 'ioc-map-search__detail';
        detail.textContent = hit.kind === 'area' ? hit.detail : `${hit.id} · ${hit.detail}`;
        li.append(name, detail);
        return li;
      }),
    );
    if (input.value.trim() === '') {
      close();
      status.textContent = '';
      return;
    }
    if (hits.length === 0) {
      const li = document.createElement('li');
      li.className = 'ioc-map-search__none';
      li.textContent = t.searchNone;
      list.replaceChildren(li);
    }
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    status.textContent =
      hits.length === 0 ? t.searchNone : i18n.t(MAP_MESSAGES, 'searchCount', { count: hits.length });
    setActive(-1);
  };
  const pick = (index: number): void => {
    const hit = hits[index];
    if (hit === undefined) return;
    input.value = hit.name;
    close();
    onPick(hit);
  };

  input.addEventListener('input', update);
  input.addEventListener('keydown', (event) => {
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        if (list.hidden) update();
        if (hits.length > 0) setActive((active + 1) % hits.length);
        break;
      case 'ArrowUp':
        event.preventDefault();
        if (hits.length > 0) setActive(active <= 0 ? hits.length - 1 : active - 1);
        break;
      case 'Enter':
        event.preventDefault();
        pick(active >= 0 ? active : 0);
        break;
      case 'Escape':
        if (!list.hidden) close();
        else input.value = '';
        break;
      default:
        return;
    }
    event.stopPropagation();
  });
  list.addEventListener('mousedown', (event) => event.preventDefault());
  list.addEventListener('click', (event) => {
    const li = event.target instanceof Element ? event.target.closest('li[role=option]') : null;
    if (li !== null) pick(Array.prototype.indexOf.call(list.children, li));
  });
  input.addEventListener('blur', close);
  drawTexts();
  const dispose = i18n.onChange(() => {
    drawTexts();
    if (!list.hidden) update();
  });
  const Control = L.Control.extend({ onAdd: () => container });
  return { control: new Control({ position: 'topleft' }), dispose };
}
