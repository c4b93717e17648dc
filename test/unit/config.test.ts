// The config is read once and validated: every bad value stops boot with an error naming the
// key, and the files shipped with the project load.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEMO_CONFIG, loadConfig, resolveConfig } from '../../src/config';

const ROOT = path.join(__dirname, '..', '..');

function keyOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveConfig(raw, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.key;
  }
  assert.fail('the config was accepted');
}

const withService = (options: Record<string, unknown>) => ({
  ...DEMO_CONFIG,
  services: { svc: { _target: 'support', ...options } },
});

describe('config validation', () => {
  it('accepts the built-in demo with its two services and three agents', () => {
    const c = resolveConfig(DEMO_CONFIG, {});
    assert.deepEqual(
      c.services.map((s) => s.name),
      ['user-scheduled', 'user-scheduled-now'],
    );
    assert.equal(c.agents.length, 3);
    assert.equal(c.port, 8080);
    assert.equal(c.telephony.kind, 'simulator');
  });

  it('names the key of a bad option value', () => {
    assert.equal(
      keyOf(withService({ _max_dial_attempts: 'three' })),
      'services.svc._max_dial_attempts',
    );
    assert.equal(
      keyOf(withService({ _request_time_bucket: 7 })),
      'services.svc._request_time_bucket',
    );
    assert.equal(keyOf(withService({ _wait_for_agent: 'maybe' })), 'services.svc._wait_for_agent');
    assert.equal(
      keyOf(withService({ _reject_future_desired_time: 'soon' })),
      'services.svc._reject_future_desired_time',
    );
  });

  it('names an unknown option, a missing target and an undefined office-hours service', () => {
    assert.equal(keyOf(withService({ _wait_for_agnet: true })), 'services.svc._wait_for_agnet');
    assert.equal(
      keyOf({ ...DEMO_CONFIG, services: { svc: { _wait_for_agent: true } } }),
      'services.svc._target',
    );
    assert.equal(
      keyOf(withService({ _business_hours_service: 'nowhere' })),
      'services.svc._business_hours_service',
    );
  });

  it('names bad office hours and capacity rules', () => {
    assert.match(
      keyOf({
        ...DEMO_CONFIG,
        office_hours: { bad: { _timezone: 'Mars/Base', _bh_regular1: 'Mon 9:00-17:00' } },
      }),
      /^office_hours\.bad/,
    );
    assert.match(
      keyOf({ ...DEMO_CONFIG, capacity: { cap: { mon: { '0900': 5000 } } } }),
      /^capacity\.cap/,
    );
  });

  it('names structural errors and bad environment values', () => {
    assert.equal(keyOf({ ...DEMO_CONFIG, port: 'eighty' }), 'port');
    assert.equal(
      keyOf({ ...DEMO_CONFIG, telephony: { kind: 'carrier-pigeon' } }),
      'telephony.kind',
    );
    assert.equal(keyOf({ ...DEMO_CONFIG, unknown_section: 1 }), 'unknown_section');
    assert.equal(keyOf(DEMO_CONFIG, { PORT: '99999' }), 'PORT');
    assert.equal(keyOf(DEMO_CONFIG, { DIALBACK_API_KEYS: 'short' }), 'DIALBACK_API_KEYS');
    assert.equal(keyOf({ ...DEMO_CONFIG, telephony: { kind: 'ari' } }), 'telephony.ari');
  });

  it("takes the ARI adapter's own log level, and names a bad one", () => {
    const ari = { url: 'http://127.0.0.1:8088', username: 'dialback', password: 'x' };
    const c = resolveConfig(
      { ...DEMO_CONFIG, telephony: { kind: 'ari', ari: { ...ari, log_level: 'debug' } } },
      {},
    );
    assert.equal(c.telephony.ari?.log_level, 'debug');
    assert.equal(
      keyOf({ ...DEMO_CONFIG, telephony: { kind: 'ari', ari: { ...ari, log_level: 'loud' } } }),
      'telephony.ari.log_level',
    );
  });

  it('takes PORT, HOST, DIALBACK_DATA_DIR and DIALBACK_API_KEYS from the environment', () => {
    const c = resolveConfig(DEMO_CONFIG, {
      PORT: '9090',
      HOST: '0.0.0.0',
      DIALBACK_DATA_DIR: '/tmp/dialback-x',
      DIALBACK_API_KEYS: 'key-one-123, key-two-456',
    });
    assert.equal(c.port, 9090);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, '/tmp/dialback-x');
    assert.deepEqual(c.apiKeys, ['key-one-123', 'key-two-456']);
  });

  it('loads the configs shipped with the project', () => {
    for (const file of ['bench/config.yaml', 'docker/lab-config.yaml'])
      assert.ok(loadConfig(path.join(ROOT, file), {}).services.length > 0, file);
  });

  it('stops `dialback start` before it listens, naming the key, for a bad file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-config-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      fs.writeFileSync(file, 'services:\n  svc:\n    _target: support\n    _ttl: -5\n');
      const r = spawnSync(process.execPath, ['bin/dialback.js', 'start', '--config', file], {
        cwd: ROOT,
        env: { ...process.env, DIALBACK_FROM_SOURCE: '1', PORT: '0' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 78, r.stderr);
      assert.match(r.stderr, /services\.svc\._ttl/);
      const missing = spawnSync(
        process.execPath,
        ['bin/dialback.js', 'start', '--config', path.join(dir, 'none.yaml')],
        {
          cwd: ROOT,
          env: { ...process.env, DIALBACK_FROM_SOURCE: '1' },
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(missing.status, 78);
      assert.match(missing.stderr, /DIALBACK_CONFIG: cannot read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
