export * from './scenario-types';
export * from './catalogue';
export * from './plan';
export * from './runner';
