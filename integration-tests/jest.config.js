// One worker: the fault cases restart brokers (F2) and would disturb files running beside them.
module.exports = { ...require('../jest.preset.js')(__dirname), testMatch: ['<rootDir>/**/*.test.ts'], maxWorkers: 1 };
