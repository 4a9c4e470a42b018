import { test, expect, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import { FACE_KEY, HR, MANAGER, Phone, screenshot, serverUrl, signIn } from './helpers';

// Ho Wing Kei (E0201, Kwun Tong warehouse): an employee the other spec files leave alone, so
// the devices this file enrols and revokes are the only ones on the page.
const EMPLOYEE = 'E0201';
const SITE = 'kb-warehouse';

const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical axe-core violations of the page (evaluated through DevTools: the CSP
 *  refuses an injected script). */
async function seriousViolations(page: Page): Promise<string[]> {
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
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} [${v.targets.join(', ')}]`);
}

test('HR issues a code, a phone enrols with it, and revoking it stops the phone', async ({ page }, testInfo) => {
  await signIn(page, HR, 'en');
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await expect(page).toHaveURL(/\/console\/people$/);
  const list = page.getByTestId('people-list');
  for (const id of ['E0001', 'E0101', 'E1001', 'E1002', 'E0201', 'E2001']) {
    await expect(list.getByTestId(`people-row-${id}`)).toBeVisible();
  }
  const row = list.getByTestId(`people-row-${EMPLOYEE}`);
  await expect(row).toContainText('Ho Wing Kei 何永基');
  await expect(row).toContainText('Wong Siu Ming 黃小明 (E0001)');
  await expect(row).toContainText('finance');
  const activeBefore = Number(await row.getByTestId('active-devices').innerText());
  expect(await seriousViolations(page)).toEqual([]);
  await screenshot(page, testInfo, 'people-hr');

  // The person's page; issue a code.
  await row.getByTestId('person-link').click();
  await expect(page).toHaveURL(new RegExp(`/console/people/${EMPLOYEE}$`));
  await expect(page.getByTestId('person-heading')).toContainText('Ho Wing Kei');
  await page.getByTestId('issue-code').click();
  const code = (await page.getByTestId('enrolment-code').innerText()).trim();
  expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  const qr = page.getByTestId('enrolment-qr');
  await expect(qr).toBeVisible();
  const box = await qr.boundingBox();
  expect(box!.width).toBeGreaterThan(150);
  const link = (await page.getByTestId('enrolment-link').innerText()).trim();
  const query = new URLSearchParams(link.replace(/^daka:\/\/enroll\?/, ''));
  expect(link.startsWith('daka://enroll?')).toBe(true);
  expect(query.get('code')).toBe(code);
  expect(query.get('server')).toBe(serverUrl());
  expect(await seriousViolations(page)).toEqual([]);
  await screenshot(page, testInfo, 'person-code-issued');

  // A phone enrols with the code read from the page, punches at the warehouse and syncs.
  const phone = new Phone('people');
  const enrolled = phone.ok('enroll', '--server', query.get('server')!, '--code', code, '--name', 'Ho Wing Kei phone');
  expect(enrolled.employee_id).toBe(EMPLOYEE);
  const deviceId: string = enrolled.device_id;
  const punch = phone.ok('punch', '--kind', 'in', '--site', SITE, '--face-key', FACE_KEY);
  expect(['accepted', 'field_punch']).toContain(punch.decision);
  const report = phone.ok('sync');
  expect(report.accepted).toBeGreaterThanOrEqual(1);
  expect(report.remaining).toBe(0);

  // The device is on the person's page (the code is not shown again).
  await page.goto(`/console/people/${EMPLOYEE}`);
  await expect(page.getByTestId('enrolment-code')).toHaveCount(0);
  const device = page.getByTestId(`device-row-${deviceId}`);
  await expect(device).toContainText('Ho Wing Kei phone');
  await expect(device.getByTestId('device-status')).toHaveAttribute('data-status', 'active');
  await expect(device.getByTestId('chain-head')).toContainText('#1');
  await expect(page.getByTestId('person-facts').getByTestId('active-devices')).toHaveText(String(activeBefore + 1));
  await screenshot(page, testInfo, 'person-hr');

  // Revoke: a confirmation step that needs a reason.
  await device.getByTestId('revoke-link').click();
  await expect(page.getByTestId('revoke-device')).toContainText('Ho Wing Kei phone');
  const reason = page.getByTestId('revoke-reason');
  await expect(reason).toHaveAttribute('required', '');
  await reason.fill('Phone lost on the MTR');
  await screenshot(page, testInfo, 'person-revoke-confirm');
  await page.getByTestId('revoke-confirm').click();
  await expect(page).toHaveURL(new RegExp(`/console/people/${EMPLOYEE}\\?revoked=`));
  await expect(page.getByTestId('revoked-notice')).toHaveText('The device is revoked.');
  await expect(device.getByTestId('device-status')).toHaveAttribute('data-status', 'revoked');
  await expect(device.getByTestId('device-status')).toContainText('Phone lost on the MTR');
  await expect(device.getByTestId('revoke-link')).toHaveCount(0);
  await expect(device.getByTestId('chain-head')).toContainText('#1');

  // The phone's next sync is refused: exit status 4 and the typed error.
  const out = phone.ok('punch', '--kind', 'out', '--site', SITE, '--face-key', FACE_KEY);
  expect(out.record_id).toBeTruthy();
  const refused = phone.run('sync');
  expect(refused.status).toBe(4);
  expect(refused.out.error).toBe('DeviceRevoked');
  expect(String(refused.out.message)).toContain('enrol again');
});

test('a manager sees only their team on People and nothing of another team', async ({ page }) => {
  await signIn(page, MANAGER, 'zh-Hant');
  await page.getByRole('link', { name: '人員', exact: true }).click();
  await expect(page.locator('h1')).toHaveText('人員及裝置');
  const ids = await page.locator('tr[data-testid^="people-row-"]').evaluateAll((rows) =>
    rows.map((r) => r.getAttribute('data-testid')!.replace('people-row-', '')));
  expect(ids.sort()).toEqual(['E1001', 'E1002']);
  await page.getByTestId('people-row-E1001').getByTestId('person-link').click();
  await expect(page.getByTestId('person-heading')).toContainText('Chan Tai Man');
  await expect(page.getByTestId('issue-code')).toHaveCount(0);
  await expect(page.getByTestId('revoke-link')).toHaveCount(0);

  const response = await page.goto(`/console/people/${EMPLOYEE}`);
  expect(response!.status()).toBe(404);
  await expect(page.getByTestId('forbidden-message')).toBeVisible();
  await expect(page.locator('body')).not.toContainText('Ho Wing Kei');
});

test.describe('on a phone (375 × 812)', () => {
  test.use({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });

  test('People and a person fit the screen without scrolling sideways', async ({ page }, testInfo) => {
    await signIn(page, HR, 'zh-Hant');
    for (const path of ['/console/people', `/console/people/${EMPLOYEE}`]) {
      await page.goto(path);
      const width = await page.evaluate(() => Math.max(
        document.documentElement.scrollWidth, document.body.scrollWidth));
      expect(width, `${path}: page width in CSS pixels`).toBeLessThanOrEqual(375 + 2);
    }
    await page.getByTestId('issue-code').click();
    const qr = await page.getByTestId('enrolment-qr').boundingBox();
    expect(qr!.x).toBeGreaterThanOrEqual(0);
    expect(qr!.x + qr!.width, 'right edge of the QR code').toBeLessThanOrEqual(375 + 2);
    const width = await page.evaluate(() => Math.max(
      document.documentElement.scrollWidth, document.body.scrollWidth));
    expect(width, 'with the code shown').toBeLessThanOrEqual(375 + 2);
    await screenshot(page, testInfo, 'person-phone-zh-Hant');
  });
});
