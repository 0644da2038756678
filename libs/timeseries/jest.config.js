module.exports = { ...require('../../jest.preset.js'), displayName: 'timeseries', rootDir: __dirname };
