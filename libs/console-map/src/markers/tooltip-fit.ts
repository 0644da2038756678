/*
 * Keeps the marker tooltip inside the map: the cluster layer places it right of and slightly
 * above its marker; near the map's right or bottom edge it would be clipped, so it is moved to the
 * marker's left / above. Pure placement (fitTooltip) and a small DOM watcher (keepTooltipInMap).
 */

/** Gap between the marker's point and the tooltip, px (the layer's default offset is +18 px). */
export const TOOLTIP_GAP = 18;
/** Least distance kept between the tooltip and the map's edges, px. */
export const TOOLTIP_MARGIN = 4;

/**
 * Where a tooltip `width`×`height` (px) placed at (`left`, `top`) in a container `containerWidth`
 * ×`containerHeight` fits: unchanged when inside; past the right edge it flips to the left of the
 * marker (left − width − 2·TOOLTIP_GAP), past the bottom it moves up, and it is finally clamped to
 * TOOLTIP_MARGIN from every edge (a tooltip larger than the map sits at its top-left).
 */
export function fitTooltip(
  box: { left: number; top: number; width: number; height: number },
  containerWidth: number,
  containerHeight: number,
): { left: number; top: number } {
  let { left, top } = box;
  if (left + box.width > containerWidth - TOOLTIP_MARGIN) left = left - box.width - 2 * TOOLTIP_GAP;
  if (top + box.height > containerHeight - TOOLTIP_MARGIN)
    top = containerHeight - TOOLTIP_MARGIN - box.height;
  left = Math.max(TOOLTIP_MARGIN, Math.min(left, containerWidth - TOOLTIP_MARGIN - box.width));
  top = Math.max(TOOLTIP_MARGIN, top);
  return { left: Math.round(left), top: Math.round(top) };
}

/**
 * Watches the map's `.ioc-map-tooltip` and moves it inside `container` (fitTooltip) each time it
 * is shown or placed. Returns a function that stops watching.
 */
export function keepTooltipInMap(container: HTMLElement): () => void {
  const fit = (tooltip: HTMLElement): void => {
    if (tooltip.hidden) return;
    const left = parseFloat(tooltip.style.left);
    const top = parseFloat(tooltip.style.top);
    if (!Number.isFinite(left) || !Number.isFinite(top)) return;
    const placed = fitTooltip(
      { left, top, width: tooltip.offsetWidth, height: tooltip.offsetHeight },
      container.clientWidth,
      container.clientHeight,
    );
    // Only a change writes: the observer sees its own write once, finds it fitting and stops.
    if (placed.left !== left) tooltip.style.left = `${placed.left}px`;
    if (placed.top !== top) tooltip.style.top = `${placed.top}px`;
  };
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      const target = record.target as HTMLElement;
      if (target.classList.contains('ioc-map-tooltip')) fit(target);
    }
  });
  observer.observe(container, {
    subtree: true,
    attributes: true,
    attributeFilter: ['style', 'hidden'],
    childList: false,
  });
  return () => observer.disconnect();
}
