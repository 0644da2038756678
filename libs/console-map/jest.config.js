module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'console-map',
  rootDir: __dirname,
  passWithNoTests: true,
};
