import { AQI_BAND_RECORDS } from '@ioc/aqi';
import { DOMAIN_LABELS, MARKER_STATES, type I18n } from '@ioc/console-data';
import { DOMAINS } from '@ioc/contracts';
import L from 'leaflet';
import { MARKER_KINDS } from '../markers/marker-kinds';
import { MAP_MESSAGES, MARKER_STATE_LABELS, STATE_SYMBOLS } from '../messages';
import './controls.css';

/**
 * The legend (bottom right, collapsible): marker states with their colour, ring/hatching and
 * symbol; VN_AQI bands with their colour, range and name; domains with their shape and glyph.
 * Colour is never alone: every swatch sits next to its name. Redrawn on language change.
 */
export function createLegendControl(i18n: I18n): L.Control {
  const container = L.DomUtil.create('div', 'ioc-map-control ioc-map-legend');
  const details = document.createElement('details');
  container.append(details);
  L.DomEvent.disableClickPropagation(container);
  L.DomEvent.disableScrollPropagation(container);
  const draw = (): void => {
    const locale = i18n.locale;
    const t = MAP_MESSAGES[locale];
    const summary = document.createElement('summary');
    summary.textContent = t.legend;
    const states = section(t.legendStates);
    for (const state of MARKER_STATES) {
      const swatch = sample('circle', STATE_SYMBOLS[state]);
      swatch.dataset['state'] = state;
      states.list.append(row(swatch, MARKER_STATE_LABELS[state][locale]));
    }
    const aqi = section(t.legendAqi);
    for (const band of AQI_BAND_RECORDS) {
      const swatch = document.createElement('span');
      swatch.className = 'ioc-legend__band';
      swatch.style.background = band.colour;
      aqi.list.append(row(swatch, `${band.min}–${band.max} ${band.name[locale]}`));
    }
    const domains = section(t.legendDomains);
    for (const domain of DOMAINS) {
      const kind = MARKER_KINDS[domain];
      domains.list.append(row(sample(kind.shape, ''), DOMAIN_LABELS[domain][locale]));
    }
    details.replaceChildren(summary, states.root, aqi.root, domains.root);
  };
  draw();
  i18n.onChange(draw);
  const Legend = L.Control.extend({ onAdd: () => container });
  return new Legend({ position: 'bottomright' });
}

function section(title: string): { root: HTMLElement; list: HTMLElement } {
  const root = document.createElement('div');
  root.className = 'ioc-legend__section';
  const heading = document.createElement('div');
  heading.className = 'ioc-legend__title';
  heading.textContent = title;
  const list = document.createElement('ul');
  root.append(heading, list);
  return { root, list };
}

function row(swatch: HTMLElement, text: string): HTMLElement {
  const li = document.createElement('li');
  const label = document.createElement('span');
  label.textContent = text;
  li.append(swatch, label);
  return li;
}

/** A small static marker (shape + badge), styled by markers.css like the real ones. */
function sample(shape: string, symbol: string): HTMLElement {
  const el = document.createElement('span');
  el.className = `ioc-marker ioc-marker--${shape} ioc-legend__sample`;
  el.setAttribute('aria-hidden', 'true');
  const body = document.createElement('span');
  body.className = 'ioc-marker__body';
  const badge = document.createElement('span');
  badge.className = 'ioc-marker__badge';
  badge.textContent = symbol;
  el.append(body, badge);
  return el;
}
