#!/usr/bin/env node
'use strict';
// Runs the compiled CLI when a build exists, the TypeScript sources otherwise.
const fs = require('node:fs');
const path = require('node:path');
const built = path.join(__dirname, '..', 'dist', 'cli.js');
if (fs.existsSync(built) && !process.env.DIALBACK_FROM_SOURCE) {
  require(built);
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'cli.ts'));
}
