module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'console-map',
  rootDir: __dirname,
  passWithNoTests: true,
  // supercluster and kdbush ship only ES modules: swc turns them into CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!(supercluster|kdbush)/)'],
};
