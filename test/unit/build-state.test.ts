// The `dialback` bin runs `dist/` only when it is a build of the current sources: checked on a
// copy of the project's layout (bin/, src/, dist/) in a temporary directory.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

describe('build state of dist/', () => {
  let dir: string;
  const state = (arg: string): number | null =>
    spawnSync(process.execPath, [path.join(dir, 'bin', 'build-state.js'), arg]).status;
  const at = (file: string, seconds: number): void =>
    fs.utimesSync(path.join(dir, file), seconds, seconds);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-build-'));
    for (const d of ['bin', 'src/store', 'dist'])
      fs.mkdirSync(path.join(dir, d), { recursive: true });
    fs.copyFileSync(
      path.join(ROOT, 'bin', 'build-state.js'),
      path.join(dir, 'bin', 'build-state.js'),
    );
    fs.writeFileSync(path.join(dir, 'src', 'cli.ts'), '');
    fs.writeFileSync(path.join(dir, 'src', 'store', 'store.ts'), '');
    at('src/cli.ts', 1_000);
    at('src/store/store.ts', 1_000);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is stale without a stamp, fresh once stamped, stale again when a source changes', () => {
    assert.equal(state('fresh'), 1, 'never built');
    assert.equal(state('stamp'), 0);
    at('dist/.built', 2_000);
    assert.equal(state('fresh'), 0, 'built after every source');
    at('src/store/store.ts', 3_000);
    assert.equal(state('fresh'), 1, 'a file in a subfolder changed since');
  });

  it('refuses an unknown command', () => {
    assert.equal(state('nope'), 2);
  });
});
