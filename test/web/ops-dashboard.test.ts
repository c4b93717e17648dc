// The operations dashboard in Chromium against the real service: it lists live callbacks,
// cancels one and several, and sets agents ready / not ready.
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import {
  ARTIFACTS,
  BROWSER_ZONE,
  DESKTOP,
  PHONE,
  bookViaApi,
  slotIn,
  horizontalOverflow,
  startWebHarness,
  type WebHarness,
} from './web-harness';

describe('operations dashboard', function () {
  this.timeout(60_000);
  let web: WebHarness;

  before(async () => {
    web = await startWebHarness();
  });
  after(async () => {
    await web?.close();
  });

  async function openOps(viewport = DESKTOP): Promise<Page> {
    const page = await (await web.context(viewport)).newPage();
    // Cancels ask "are you sure?" with the browser's confirm().
    page.on('dialog', (d) => void d.accept());
    await page.goto('/ops');
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }

  it('lists a new callback live and cancels it', async () => {
    const page = await openOps();
    const id = await bookViaApi(web.svc.url, 'user-scheduled', {
      _customer_number: '+33 1 23 45 67 89',
      _desired_time: slotIn(2),
      first_name: 'Grace',
    });
    // No reload: the service's event stream makes the page refresh.
    const row = page.locator(`#callbacks tr[data-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.getAttribute('data-state'), 'SCHEDULED');
    assert.match(await row.innerText(), /Grace/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ops-desktop.png'), fullPage: true });

    await row.getByRole('button', { name: `Cancel ${id}` }).click();
    await page.locator('#ops-message', { hasText: `Cancelled ${id}` }).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.equal(web.svc.engine.get(id)?._callback_reason, 'CANCELLED');

    await page.getByLabel('Number or id').fill(id);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForSelector(`#callbacks tr[data-id="${id}"][data-reason="CANCELLED"]`);
    assert.match(await page.locator(`#callbacks tr[data-id="${id}"]`).innerText(), /COMPLETED/);
  });

  it('cancels the selected callbacks in bulk', async () => {
    const ids = [
      await bookViaApi(web.svc.url, 'user-scheduled', {
        _customer_number: '5116',
        _desired_time: slotIn(3),
      }),
      await bookViaApi(web.svc.url, 'user-scheduled-now', {
        _customer_number: '5117',
        _desired_time: slotIn(3),
      }),
    ];
    const page = await openOps();
    for (const id of ids) await page.getByLabel(`Select ${id}`).check();
    await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
    await page.locator('#ops-message', { hasText: 'Cancelled 2' }).waitFor();
    for (const id of ids)
      assert.equal(web.svc.engine.get(id)?._callback_reason, 'CANCELLED_BY_ADMIN');
  });

  it('reschedules a callback to a new time', async () => {
    const id = await bookViaApi(web.svc.url, 'user-scheduled', {
      _customer_number: '5118',
      _desired_time: slotIn(4),
    });
    const page = await openOps();
    await page.getByRole('button', { name: `Reschedule ${id}` }).click();
    const target = new Date(slotIn(6));
    // datetime-local is in the browser's zone; sv-SE formats as `YYYY-MM-DD HH:MM`.
    const local = new Intl.DateTimeFormat('sv-SE', {
      timeZone: BROWSER_ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    })
      .format(target)
      .replace(' ', 'T');
    await page.getByLabel(/New time/).fill(local);
    await page.getByRole('dialog').getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#ops-message', { hasText: `Rescheduled ${id}` }).waitFor();
    assert.equal(web.svc.engine.get(id)?._desired_time, target.toISOString());
  });

  it('sets an agent not ready and ready again', async () => {
    const page = await openOps();
    const row = page.locator('#agents tr[data-agent="agent3"]');
    await row.getByRole('button', { name: 'Not ready: agent3', exact: true }).click();
    await row.locator('.badge.not-ready').waitFor();
    assert.equal(web.svc.engine.listAgents().find((a) => a.id === 'agent3')?.state, 'not-ready');
    await row.getByRole('button', { name: 'Ready: agent3', exact: true }).click();
    await row.locator('.badge.ready').waitFor();
    assert.equal(web.svc.engine.listAgents().find((a) => a.id === 'agent3')?.state, 'ready');
  });

  it('draws the capacity, wait and outcome charts and fits a phone-sized screen', async () => {
    const slot = slotIn(1);
    await bookViaApi(web.svc.url, 'user-scheduled', {
      _customer_number: '5119',
      _desired_time: slot,
    });
    // The outcome chart counts today's completed callbacks: this test makes one of its own.
    const done = await bookViaApi(web.svc.url, 'user-scheduled', {
      _customer_number: '5120',
      _desired_time: slotIn(5),
    });
    await web.svc.engine.cancel('user-scheduled', done);
    const page = await openOps(PHONE);
    // The chart shows one day of the browser's zone, today at first: an hour from now is
    // tomorrow there in the last hour of the day, so the test picks the slot's day.
    await page.waitForSelector('#cap-chart svg', { state: 'attached' });
    const slotDay = new Intl.DateTimeFormat('en-CA', {
      timeZone: BROWSER_ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(new Date(slot));
    await page.locator('#cap-day').fill(slotDay);
    await page.waitForSelector('#cap-chart svg rect.bar-booked');
    await page.waitForSelector('#ewt-chart svg path', { state: 'attached' });
    await page.waitForSelector('#out-chart svg rect');
    assert.match(await page.locator('#cap-summary').innerText(), /[1-9]\d* of \d+ seats booked/);
    const overflow = await horizontalOverflow(page);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ops-phone.png'), fullPage: true });
  });
});
