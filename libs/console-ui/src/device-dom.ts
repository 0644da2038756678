/*
 * Small DOM helpers of the device panel and the camera tiles. Text is always set with
 * textContent (device names, alert messages and command details are hostile strings); never
 * innerHTML.
 */

/** An element with classes, text and attributes (attribute values are set as text, never parsed). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: {
    className?: string;
    text?: string;
    attrs?: Readonly<Record<string, string>>;
    children?: readonly (Node | null)[];
  } = {},
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (options.className !== undefined) element.className = options.className;
  if (options.text !== undefined) element.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) element.setAttribute(name, value);
  for (const child of options.children ?? []) if (child !== null) element.append(child);
  return element;
}

/** Sets an element's text only when it changed (no needless layout work on live updates). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** A short, printable description of an error for the panel (an ApiError's message, a network error's). */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 300);
  return String(error).slice(0, 300);
}
