#!/usr/bin/env node
'use strict';
// Runs the compiled CLI when `dist/` holds a build of the current sources (see build-state.js),
// the TypeScript sources otherwise: a build left behind by older sources never runs.
const path = require('node:path');
const { runsBuild } = require('./build-state');
if (runsBuild()) {
  require(path.join(__dirname, '..', 'dist', 'cli.js'));
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'cli.ts'));
}
