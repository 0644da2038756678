export * from './free-port';
export * from './influxd';
export * from './platform-processes';
export * from './temp-dirs';
export * from './postgres';
export * from './databases';
export * from './server-suites';
export * from './api-login';
