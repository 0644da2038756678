export * from './breakpoints';
export * from './bands';
export * from './vn-aqi';
export * from './hourly-tracker';
