'use strict';
// Whether `dist/` holds a build of the current sources: `npm run build` stamps it when tsc
// succeeds, and a source file changed since (or a build of another checkout) makes it stale.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const STAMP = path.join(ROOT, 'dist', '.built');

function newestSource() {
  let newest = 0;
  const src = path.join(ROOT, 'src');
  for (const f of fs.readdirSync(src, { recursive: true })) {
    const st = fs.statSync(path.join(src, String(f)));
    if (st.isFile() && st.mtimeMs > newest) newest = st.mtimeMs;
  }
  return newest;
}

function buildIsFresh() {
  try {
    return fs.statSync(STAMP).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

/** Whether the `dialback` bin runs `dist/`: a fresh build, unless DIALBACK_FROM_SOURCE is set. */
function runsBuild() {
  return !process.env.DIALBACK_FROM_SOURCE && buildIsFresh();
}

/** Stamps the build just made: called by `npm run build` after tsc succeeded. */
function stampBuild() {
  fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

module.exports = { buildIsFresh, runsBuild, stampBuild };

if (require.main === module) {
  const arg = process.argv[2];
  if (arg === 'stamp') stampBuild();
  else if (arg === 'fresh') process.exit(buildIsFresh() ? 0 : 1);
  else {
    process.stderr.write('usage: node bin/build-state.js stamp|fresh\n');
    process.exit(2);
  }
}
