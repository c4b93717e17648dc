// Serving the built UI: pages and assets when web/dist exists, a clear 503 page when not.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../../src/http/app';
import { defaultWebRoot } from '../../src/http/routes/web';
import { silentLogger } from '../../src/logger';
import { FakeEngine } from '../helpers/fake-engine';
import { WEB_ROOT } from './web-harness';

describe('web routes', () => {
  it('serves the booking page, the dashboard and their assets from the build', async () => {
    const app = await buildApp({
      engine: new FakeEngine(['s']),
      logger: silentLogger(),
      webRoot: WEB_ROOT,
    });
    try {
      const index = await app.inject({ method: 'GET', url: '/' });
      assert.equal(index.statusCode, 200);
      assert.match(String(index.headers['content-type']), /text\/html/);
      assert.match(index.body, /Request a callback/);
      const ops = await app.inject({ method: 'GET', url: '/ops' });
      assert.equal(ops.statusCode, 200);
      assert.match(ops.body, /dialback operations/);
      const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.body);
      assert.ok(asset, 'the page references a built script');
      const js = await app.inject({ method: 'GET', url: asset[1] });
      assert.equal(js.statusCode, 200);
      assert.match(String(js.headers['content-type']), /javascript/);
      // The API around it is untouched.
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('answers 503 with how to build when web/dist is missing', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-noweb-'));
    const app = await buildApp({
      engine: new FakeEngine(['s']),
      logger: silentLogger(),
      webRoot: empty,
    });
    try {
      for (const url of ['/', '/ops', '/assets/index.js']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 503, url);
        assert.match(res.body, /web UI not built: run npm run build:web/);
      }
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await app.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('finds web/dist next to package.json from the source or the compiled tree', () => {
    const repo = path.resolve(__dirname, '..', '..');
    assert.equal(defaultWebRoot(path.join(repo, 'src', 'http', 'routes')), WEB_ROOT);
    assert.equal(defaultWebRoot(path.join(repo, 'dist', 'http', 'routes')), WEB_ROOT);
  });
});
