/**
 * A small DOM builder for the console's components: elements are made with
 * `document.createElement` and filled with `textContent` only, so a device name, an alert message
 * or a note (hostile strings) is never parsed as HTML. No `style="…"` attributes either (the
 * console's Content-Security-Policy has no `unsafe-inline`): classes, or `element.style`.
 */

/** Attributes set with setAttribute (a value of false or undefined leaves it out, true sets it empty). */
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * Creates `<tag>` with classes (space-separated), attributes and children (strings become text
 * nodes). Example: `h('button', {class: 'ioc-button', type: 'button'}, 'OK')`.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes & { class?: string } = {},
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

/** Appends children (strings as text nodes; null, undefined and false skipped). */
export function append(parent: Node, ...children: Array<Node | string | null | undefined | false>): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(
  parent: Element,
  ...children: Array<Node | string | null | undefined | false>
): void {
  parent.replaceChildren();
  append(parent, ...children);
}
