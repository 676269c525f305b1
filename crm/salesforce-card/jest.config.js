// sfdx-lwc-jest's configuration: it compiles the LWC, stubs the lightning-* base
// components and resolves @salesforce/* imports (the tests mock the Apex method).
const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

// Deadlines are shown in the user's Salesforce time zone (@salesforce/i18n/timeZone, mocked
// in the tests); the process zone is pinned too, so nothing depends on the machine's.
process.env.TZ = 'UTC';

module.exports = {
    ...jestConfig,
    modulePathIgnorePatterns: ['<rootDir>/.localdevserver'],
    testPathIgnorePatterns: ['/node_modules/']
};
