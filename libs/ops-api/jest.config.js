module.exports = { ...require('../../jest.preset.js'), displayName: 'ops-api', rootDir: __dirname };
