import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADMIN_TOKEN, FACE_KEY, HR, MANAGER, Phone, screenshot, serverUrl, signIn } from './helpers';

// The Approvals inbox and the Exceptions queue, driven by simulated phones.
//
// Cheung Mei Ling (E1002) files and punches here: Chan (E1001) is the other spec files'. The
// file runs after console.spec.ts (files run in alphabetical order on one server): the field
// punch approved here makes Cheung present and late on Today, and console.spec.ts's first
// test expects nobody to be late yet.

/** A small JPEG receipt drawn by the browser itself, written to a temporary file. */
async function jpegReceipt(page: Page): Promise<string> {
  await page.goto('about:blank');
  const dataUrl = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 160;
    c.height = 200;
    const g = c.getContext('2d')!;
    g.fillStyle = '#fffdf2';
    g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = '#222';
    g.font = '14px sans-serif';
    g.fillText('RECEIPT', 45, 24);
    g.fillText('Taxi        HK$88.40', 10, 80);
    g.fillRect(10, 100, 140, 2);
    return c.toDataURL('image/jpeg', 0.85);
  });
  expect(dataUrl.startsWith('data:image/jpeg;base64,')).toBe(true);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daka-receipt-')), 'receipt.jpg');
  fs.writeFileSync(file, Buffer.from(dataUrl.split(',')[1], 'base64'));
  return file;
}

async function adminGet(request: APIRequestContext, p: string): Promise<any> {
  const response = await request.get(`${serverUrl()}${p}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

/** axe-core's serious and critical findings on the page (evaluated through the DevTools
 * protocol: the console's CSP refuses an injected script). */
async function seriousViolations(page: Page): Promise<string[]> {
  const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const results = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document);
    return {
      passes: r.passes.length as number,
      violations: r.violations.map((v: any) => ({
        id: v.id as string, impact: v.impact as string, help: v.help as string,
        targets: v.nodes.map((n: any) => n.target.join(' ')) as string[],
      })),
    };
  });
  expect(results.passes).toBeGreaterThan(0);
  return results.violations
    .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
    .map((v: any) => `${v.impact} ${v.id}: ${v.help} [${v.targets.join(', ')}]`);
}

/** The page is no wider than a 375 px phone. */
async function fitsAPhone(page: Page): Promise<void> {
  await page.setViewportSize({ width: 375, height: 812 });
  const width = await page.evaluate(() => Math.max(
    document.documentElement.scrollWidth, document.body.scrollWidth));
  expect(width, 'page width in CSS pixels').toBeLessThanOrEqual(375 + 2);
  await page.setViewportSize({ width: 1280, height: 720 });
}

test('an expense claim with a receipt is approved on the console, signed by the server', async ({ page, request }, testInfo) => {
  // Cheung's phone enrols, files a taxi claim with a photographed receipt and syncs.
  const phone = new Phone('approvals');
  expect((await phone.enrol(request, 'E1002')).employee_id).toBe('E1002');
  const receipt = await jpegReceipt(page);
  const claim = phone.ok('expense', '--amount', '88.40', '--category', 'taxi',
    '--description', 'Taxi to the client 的士往客戶', '--receipt', receipt);
  const id: string = claim.request_id;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  const pushed = phone.ok('sync');
  expect(pushed.remaining).toBe(0);

  // HR reads it, without a decision form (HR is not linked to an employee).
  await signIn(page, HR, 'en');
  await page.getByTestId('nav-approvals').click();
  await expect(page).toHaveURL(/\/console\/approvals$/);
  const hrCard = page.getByTestId(`request-${id}`);
  await expect(hrCard).toBeVisible();
  await expect(hrCard.getByTestId('decide-form')).toHaveCount(0);
  await expect(page.getByTestId('approvals-note')).toBeVisible();
  await page.getByTestId('sign-out').click();

  // Lee, Cheung's manager, sees the claim with the receipt rendered.
  await signIn(page, MANAGER, 'en');
  await page.goto('/console/approvals');
  const card = page.getByTestId(`request-${id}`);
  await expect(card).toBeVisible();
  await expect(card).toHaveAttribute('data-status', 'pending');
  await expect(card.getByTestId('request-applicant')).toContainText('E1002 Cheung Mei Ling 張美玲');
  await expect(card).toContainText('HKD 88.40');
  await expect(card).toContainText('Taxi to the client 的士往客戶');
  const image = card.getByTestId('receipt-image');
  await image.scrollIntoViewIfNeeded();
  await expect(image).toBeVisible();
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => (img.complete ? img.naturalWidth : 0)))
    .toBeGreaterThan(0);
  expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);
  // The image is served as an image, never sniffed.
  const src = await image.getAttribute('src');
  const served = await page.request.get(src!);
  expect(served.status()).toBe(200);
  expect(served.headers()['content-type']).toBe('image/jpeg');
  expect(served.headers()['x-content-type-options']).toBe('nosniff');
  expect(Buffer.compare(await served.body(), fs.readFileSync(receipt))).toBe(0);
  expect(await seriousViolations(page)).toEqual([]);
  await fitsAPhone(page);
  await screenshot(page, testInfo, 'approvals-manager');

  // A rejection without its reason is refused, naming the comment.
  await card.getByTestId('decide-reject').click();
  await expect(page.getByTestId('approvals-error')).toHaveAttribute('data-code', 'invalid_comment');
  await expect(page.getByTestId('approvals-error')).toContainText('Comment:');

  // Approved with a comment.
  await page.getByTestId(`request-${id}`).getByTestId('decide-comment').fill('Receipt checked 收據已核對');
  await page.getByTestId(`request-${id}`).getByTestId('decide-approve').click();
  await expect(page).toHaveURL(/done=approve/);
  await expect(page.getByTestId('approvals-done')).toBeVisible();
  const decided = page.getByTestId(`request-${id}`);
  await expect(decided).toHaveAttribute('data-status', 'approved');
  const entry = decided.locator('[data-testid="trail-entry"][data-action="approve"]');
  await expect(entry).toHaveAttribute('data-signed-by', 'server');
  await expect(entry).toContainText('lee@harbour-lane.example');
  await expect(entry).toContainText('Receipt checked 收據已核對');
  await screenshot(page, testInfo, 'approvals-decided');

  // The phone learns the outcome at its next sync; the admin API shows the server's signature.
  const synced = phone.ok('sync');
  expect(JSON.stringify(synced.request_updates)).toContain(id);
  expect(synced.request_updates.some((c: any) => c.request_id === id && c.status === 'approved'),
    JSON.stringify(synced.request_updates)).toBe(true);
  const view = await adminGet(request, `/admin/v1/requests/${id}`);
  expect(view.status).toBe('approved');
  const approve = view.audit.find((a: any) => a.action === 'approve');
  expect(approve.signed_by).toBe('server');
  expect(approve.actor).toBe('E0101');
  expect(approve.console_account.email).toBe('lee@harbour-lane.example');
  expect(approve.console_account.public_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(approve.signed.device_id).toBe(`console:${approve.console_account.id}`);
  expect(view.audit.find((a: any) => a.action === 'submit').signed_by).toBe('device');
});

test('a field punch from the phone is approved in Exceptions and counts', async ({ page, request }, testInfo) => {
  // Cheung clocks in from a client's office in Tsim Sha Tsui, far from every site: a field
  // punch (外勤), which attendance does not count until it is reviewed.
  const phone = new Phone('exceptions');
  await phone.enrol(request, 'E1002');
  const punch = phone.ok('punch', '--kind', 'field', '--lat', '22.2988', '--lon', '114.1722',
    '--accuracy', '10', '--face-key', FACE_KEY);
  expect(punch.decision).toBe('field_punch');
  const recordId: string = punch.record_id;
  expect(phone.ok('sync').remaining).toBe(0);
  const punches = await adminGet(request, '/admin/v1/punches');
  const stored = punches.punches.find((p: any) => p.punch_id === recordId);
  expect(stored.status).toBe('field_punch');
  const day = new Date(stored.judged_at).toLocaleDateString('en-CA', { timeZone: 'Asia/Hong_Kong' });
  const dayOf = async () => (await adminGet(request,
    `/admin/v1/attendance/days?employee=E1002&from=${day}&to=${day}`)).days[0].result;
  expect((await dayOf()).pending).toContain(recordId);

  await signIn(page, MANAGER, 'en');
  await page.getByTestId('nav-exceptions').click();
  await expect(page).toHaveURL(/\/console\/exceptions$/);
  const item = page.getByTestId(`field-punch-${recordId}`);
  await expect(item).toBeVisible();
  await expect(item.getByTestId('punch-evidence')).toHaveAttribute('href', `/console/punches/${recordId}`);
  expect(await seriousViolations(page)).toEqual([]);
  await fitsAPhone(page);
  await screenshot(page, testInfo, 'exceptions-manager');

  await item.getByTestId('review-comment').fill('Stocktake at the client 客戶盤點');
  await item.getByTestId('review-approve').click();
  await expect(page.getByTestId('exceptions-done')).toBeVisible();
  await expect(page.getByTestId(`field-punch-${recordId}`)).toHaveCount(0);

  // Attendance counts it now, and the punch list shows the review.
  const counted = await dayOf();
  expect(counted.pending).not.toContain(recordId);
  expect(counted.segments[0].clock_in).not.toBeNull();
  const after = await adminGet(request, '/admin/v1/punches');
  expect(after.punches.find((p: any) => p.punch_id === recordId).review).toBe('approved');

  // The same page in Traditional Chinese.
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
  await expect(page.locator('h1')).toContainText('異常');
  expect(await seriousViolations(page)).toEqual([]);
  await screenshot(page, testInfo, 'exceptions-zh-hant');
});
