module.exports = { ...require('../../jest.preset.js'), displayName: 'aqi', rootDir: __dirname };
