export * from './directory';
export * from './conditions';
export * from './compile';
export * from './messages';
export * from './rolling-window';
export * from './engine';
