export * from './free-port';
export * from './influxd';
export * from './platform-processes';
export * from './temp-dirs';
