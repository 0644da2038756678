module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'console-data',
  rootDir: __dirname,
  passWithNoTests: true,
};
