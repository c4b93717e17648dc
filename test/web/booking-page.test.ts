// The booking page in Chromium against the real service over the simulator: book, confirm the
// ConfirmationDialog, follow the callback to an agent; errors of the API shown to the customer.
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import {
  ARTIFACTS,
  DESKTOP,
  PHONE,
  horizontalOverflow,
  startWebHarness,
  type WebHarness,
} from './web-harness';

describe('booking page', function () {
  this.timeout(60_000);
  let web: WebHarness;

  before(async () => {
    web = await startWebHarness();
  });
  after(async () => {
    await web?.close();
  });

  async function openBooking(viewport = DESKTOP): Promise<Page> {
    const page = await (await web.context(viewport)).newPage();
    await page.goto('/');
    await page.waitForSelector('#service option[value="user-scheduled"]', { state: 'attached' });
    return page;
  }

  it('books an immediate callback, asks to confirm and shows the agent connected after OK', async () => {
    const page = await openBooking();
    await page.selectOption('#service', 'user-scheduled');
    await page.getByLabel('Phone number').fill('5115');
    await page.getByLabel('First name').fill('Ada');
    await page.getByRole('button', { name: 'Call me as soon as possible' }).click();

    const dialog = page.getByRole('dialog', { name: 'We are ready to call you' });
    await dialog.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await dialog.innerText(), /You will receive the call shortly/);
    const id = (await page.locator('#cb-id').innerText()).trim();
    assert.match(id, /^440-/);
    assert.equal(web.svc.engine.get(id)?._callback_state, 'QUEUED');
    await page.screenshot({ path: path.join(ARTIFACTS, 'booking-confirm-desktop.png') });

    await dialog.getByRole('button', { name: 'Ok' }).click();
    await page.waitForSelector('#status-card[data-history~="PROCESSING"]', { timeout: 15_000 });
    assert.equal(await dialog.isVisible(), false);
    assert.match(await page.locator('#state-text').innerText(), /agent/i);
    const view = web.svc.engine.get(id);
    assert.ok(view);
    assert.ok(['PROCESSING', 'COMPLETED'].includes(String(view._callback_state)));
    assert.equal(view.first_name, 'Ada');
    assert.equal(view._device_os, 'comet');
    await page.screenshot({ path: path.join(ARTIFACTS, 'booking-connected-desktop.png') });

    // The simulated agent hangs up after 3 s: the page ends on the outcome.
    await page.waitForSelector('#status-card[data-state="COMPLETED"]', { timeout: 15_000 });
    assert.equal(await page.locator('#status-card').getAttribute('data-reason'), 'AGENT_CONNECTED');
    assert.match(await page.locator('#state-text').innerText(), /ended/);
  });

  it("shows the service's explanation when the phone number is invalid", async () => {
    const page = await openBooking();
    await page.getByLabel('Phone number').fill('call me maybe');
    await page.getByRole('button', { name: 'Call me as soon as possible' }).click();
    const alert = page.locator('#form-error[data-exception="CallbackExceptionNumber"]');
    await alert.waitFor();
    assert.match(await alert.innerText(), /cannot be called/);
    assert.equal(await page.getByLabel('Phone number').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#status-card').isVisible(), false);
  });

  it('asks for a number before calling the API when the field is empty', async () => {
    const page = await openBooking();
    await page.getByRole('button', { name: 'Call me as soon as possible' }).click();
    await page.locator('#form-error[data-exception="MissingPhone"]').waitFor();
    assert.equal(
      await page.evaluate('document.activeElement && document.activeElement.id'),
      'phone',
      'the focus goes to the field to fix',
    );
  });

  it('books a chosen slot of tomorrow, shown in the browser and office time zones', async () => {
    const page = await openBooking();
    await page.getByLabel('At a time I choose').check();
    await page.getByRole('button', { name: 'Next day' }).click();
    const firstSlot = page.locator('#slots button').first();
    await firstSlot.waitFor();
    // Europe/Paris is one or two hours ahead of the demo office's UTC.
    assert.match(await page.locator('#zones').innerText(), /Europe\/Paris[\s\S]*UTC/);
    const label = (await firstSlot.getAttribute('aria-label')) ?? '';
    const m = /^(\d\d:\d\d) your time, (\d\d:\d\d) office time/.exec(label);
    assert.ok(m, label);
    assert.notEqual(m[1], m[2]);
    const slot = await firstSlot.getAttribute('data-slot');
    await firstSlot.click();
    assert.equal(await firstSlot.getAttribute('aria-pressed'), 'true');
    await page.getByLabel('Phone number').fill('+44 20 7946 0018');
    await page.screenshot({
      path: path.join(ARTIFACTS, 'booking-slots-desktop.png'),
      fullPage: true,
    });
    await page.getByRole('button', { name: 'Book this slot' }).click();
    await page.waitForSelector('#status-card[data-state="SCHEDULED"]');
    const id = (await page.locator('#cb-id').innerText()).trim();
    const view = web.svc.engine.get(id);
    assert.equal(view?._desired_time, slot);
    assert.equal(view?._callback_state, 'SCHEDULED');
  });

  it('fits a phone-sized screen without sideways scrolling', async () => {
    const page = await openBooking(PHONE);
    await page.getByLabel('At a time I choose').check();
    await page.getByRole('button', { name: 'Next day' }).click();
    await page.locator('#slots button').first().waitFor();
    const overflow = await horizontalOverflow(page);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'booking-phone.png'), fullPage: true });
  });
});
