// Runs the TypeScript sources directly (no build step): swc transpiles each file on load,
// honouring tsconfig.base.json's path aliases and NestJS's decorator metadata.
const path = require('node:path');
process.env.SWC_NODE_PROJECT ??= path.join(__dirname, '..', 'tsconfig.base.json');
require('@swc-node/register');
