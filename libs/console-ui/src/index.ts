export * from './dom-builder';
export * from './locale-switch';
export * from './login-view';
export * from './app-shell';
export * from './overview-strip';
export * from './alert-sound';
export * from './alerts-panel';
