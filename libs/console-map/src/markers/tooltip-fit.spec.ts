import { TOOLTIP_GAP, TOOLTIP_MARGIN, fitTooltip } from './tooltip-fit';

describe('fitTooltip', () => {
  it('leaves a tooltip that fits where the layer put it', () => {
    expect(fitTooltip({ left: 100, top: 50, width: 200, height: 60 }, 800, 600)).toEqual({
      left: 100,
      top: 50,
    });
  });
  it('flips a tooltip past the right edge to the marker’s left', () => {
    // Marker at x = 700: the layer puts the tooltip at 718; 280 px wide it would end at 998 > 800.
    const placed = fitTooltip({ left: 700 + TOOLTIP_GAP, top: 50, width: 280, height: 60 }, 800, 600);
    expect(placed.left).toBe(700 - TOOLTIP_GAP - 280);
    expect(placed.left + 280).toBeLessThanOrEqual(800 - TOOLTIP_MARGIN);
  });
  it('moves a tooltip past the bottom edge up and keeps it off the top and left edges', () => {
    expect(fitTooltip({ left: 100, top: 580, width: 200, height: 60 }, 800, 600).top).toBe(
      600 - TOOLTIP_MARGIN - 60,
    );
    expect(fitTooltip({ left: 10, top: -10, width: 200, height: 60 }, 800, 600)).toEqual({
      left: 10,
      top: TOOLTIP_MARGIN,
    });
    // Flipping left near a narrow map's left edge clamps to the margin.
    expect(fitTooltip({ left: 120, top: 10, width: 280, height: 60 }, 300, 600).left).toBe(TOOLTIP_MARGIN);
  });
});
