// Shared setup of the browser tests: the real service in-process over the simulator, Debian's
// Chromium driven by playwright-core, and a folder for screenshots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startService, type RunningService } from '../../src/cli';
import { DEMO_CONFIG, resolveConfig, type RawConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';

export const WEB_ROOT = path.resolve(__dirname, '..', '..', 'web', 'dist');
export const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };
/** Not the office's zone (UTC in the demo), so the pages must show both. */
export const BROWSER_ZONE = 'Europe/Paris';

export interface WebHarness {
  svc: RunningService;
  browser: Browser;
  dataDir: string;
  context(viewport: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function startWebHarness(overrides: Partial<RawConfig> = {}): Promise<WebHarness> {
  if (!fs.existsSync(path.join(WEB_ROOT, 'index.html')))
    throw new Error(`${WEB_ROOT} is missing: run npm run build:web first`);
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-web-'));
  const cfg = resolveConfig(
    {
      ...DEMO_CONFIG,
      port: 0,
      host: '127.0.0.1',
      data_dir: dataDir,
      telephony: {
        kind: 'simulator',
        simulator: {
          answer_delay_ms: 200,
          amd_delay_ms: 100,
          agent_answer_delay_ms: 100,
          handle_time_ms: 3000,
        },
      },
      // Idle actors stop after this; engine.stop() leaves their 30 s default idle timers armed,
      // which would hold the test process open that long after the last test.
      engine: { idle_ms: 1000 },
      ...overrides,
    },
    {},
  );
  const svc = await startService(cfg, silentLogger(), { webRoot: WEB_ROOT });
  let browser: Browser;
  try {
    // launch() runs on a fresh temporary profile (user-data-dir) that it deletes on close.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (err) {
    await svc.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const contexts: BrowserContext[] = [];
  return {
    svc,
    browser,
    dataDir,
    async context(viewport) {
      const ctx = await browser.newContext({
        viewport,
        timezoneId: BROWSER_ZONE,
        locale: 'en-GB',
        baseURL: svc.url,
        ...(viewport.width < 600 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
      });
      contexts.push(ctx);
      return ctx;
    },
    async close() {
      for (const c of contexts) await c.close();
      await browser.close();
      await svc.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Books through the API (as another device would), for the dashboard tests. */
export async function bookViaApi(
  url: string,
  service: string,
  fields: Record<string, string>,
): Promise<string> {
  const res = await fetch(`${url}/genesys/1/service/callback/${service}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  const body = (await res.json()) as { _id?: string; message?: string };
  if (!res.ok || !body._id) throw new Error(`booking failed: ${res.status} ${body.message}`);
  return body._id;
}

/** A slot start `hours` from now on the 5-minute grid of the demo services. */
export function slotIn(hours: number): string {
  const t = Date.now() + hours * 3_600_000;
  return new Date(Math.ceil(t / 300_000) * 300_000).toISOString();
}

/** How many CSS pixels the page is wider than the viewport (0 when nothing scrolls sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  // A string: this runs in the browser, and the test tsconfig has no DOM types.
  return Number(
    await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    ),
  );
}
