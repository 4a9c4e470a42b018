import { test, expect, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import { FACE_KEY, HR, MANAGER, Phone, screenshot, signIn } from './helpers';

const STATUSES = [
  'clocked_in', 'late', 'not_yet_in', 'missing_clock_out', 'on_leave',
  'rest_day', 'holiday', 'absent', 'not_scheduled',
];

/** The employee ids of the board's rows, in page order. */
async function rowIds(page: Page): Promise<string[]> {
  const ids = await page.locator('tr[data-testid^="today-row-"]').evaluateAll((rows) =>
    rows.map((r) => (r.getAttribute('data-testid') ?? '').replace('today-row-', '')));
  return ids;
}

test('HR signs in and sees the Today board with a status for every employee', async ({ page }, testInfo) => {
  await signIn(page, HR, 'en');
  await expect(page.getByTestId('account-name')).toHaveText('Wong Siu Ming 黃小明');
  await expect(page.locator('h1')).toContainText('Attendance today');

  const summary = page.getByTestId('today-summary');
  await expect(summary).toBeVisible();
  const counts: number[] = [];
  for (const id of ['summary-present', 'summary-late', 'summary-not-in', 'summary-on-leave']) {
    const text = (await summary.getByTestId(id).innerText()).trim();
    expect(text, `${id} is a number`).toMatch(/^\d+$/);
    counts.push(Number(text));
  }

  const board = page.getByTestId('today-board');
  await expect(board).toBeVisible();
  await expect(board.getByTestId('today-site').first()).toBeVisible();
  for (const id of ['E1001', 'E1002', 'E2001']) {
    const row = board.getByTestId(`today-row-${id}`);
    await expect(row).toBeVisible();
    await expect(row.locator('td').first()).toHaveText(id);
  }
  // Names come from the example policy.
  await expect(board.getByTestId('today-row-E1001')).toContainText('Chan Tai Man 陳大文');

  // Every row has a status the engine knows, shown as text.
  const ids = await rowIds(page);
  expect(ids.length).toBeGreaterThanOrEqual(3);
  const statuses: string[] = [];
  for (const id of ids) {
    const cell = board.getByTestId(`today-row-${id}`).getByTestId('status');
    const status = await cell.getAttribute('data-status');
    expect(STATUSES, `status of ${id}`).toContain(status);
    expect((await cell.innerText()).trim(), `status text of ${id}`).not.toBe('');
    statuses.push(status!);
  }
  // The summary counts the rows: present includes the late and those missing a clock-out,
  // late is a part of present, not in is those not yet in or absent.
  const rowsWith = (...words: string[]) => statuses.filter((s) => words.includes(s)).length;
  expect(counts, 'present, late, not in, on leave').toEqual([
    rowsWith('clocked_in', 'late', 'missing_clock_out'),
    rowsWith('late'),
    rowsWith('not_yet_in', 'absent'),
    rowsWith('on_leave'),
  ]);

  await screenshot(page, testInfo, 'today-hr');
});

test('a clock-in from a phone shows on Today', async ({ page, request }, testInfo) => {
  // Chan's phone enrols, clocks in at the store (GPS inside the fence, the store's Wi-Fi,
  // a face match) and syncs: a real signed punch through the real device runtime.
  const phone = new Phone('today');
  expect((await phone.enrol(request, 'E1001')).employee_id).toBe('E1001');
  const punch = phone.ok('punch', '--kind', 'in', '--site', 'cwb-store', '--face-key', FACE_KEY);
  expect(punch.decision).toBe('accepted');
  const report = phone.ok('sync');
  expect(report.accepted).toBeGreaterThanOrEqual(1);
  expect(report.remaining).toBe(0);

  await signIn(page, HR, 'en');
  const row = page.getByTestId('today-row-E1001');
  // The server's clock starts at 10:20 in Hong Kong (scripts/console-tests.sh): the store
  // opens at 10:00 with no grace, so Chan is in, and late.
  const status = row.getByTestId('status');
  await expect(status).toHaveAttribute('data-status', 'late');
  await expect(status).toContainText(/late/i);
  await expect(row.locator('td').last()).toHaveText(/^10:\d\d$/);
  const present = Number((await page.getByTestId('summary-present').innerText()).trim());
  const late = Number((await page.getByTestId('summary-late').innerText()).trim());
  expect(present).toBeGreaterThanOrEqual(1);
  expect(late).toBeGreaterThanOrEqual(1);
  await screenshot(page, testInfo, 'today-after-punch');
});

test('an open Today page shows a new clock-in by itself, without a reload', async ({ page, request }) => {
  // The browser's timers run on a fake clock so that the 30-second refresh comes at once;
  // the server and the phone are real.
  await page.clock.install();
  await signIn(page, HR, 'en');
  const row = page.getByTestId('today-row-E0101');
  await expect(row).toBeVisible();
  await expect(row.getByTestId('first-in-link')).toHaveCount(0);
  await expect(page.getByTestId('today-as-of')).toHaveText(/^Updated at \d\d:\d\d$/);
  // A mark on this document: a reload would lose it.
  await page.evaluate(() => { (window as unknown as { stillHere: boolean }).stillHere = true; });

  // Lee clocks in at the store from her phone.
  const phone = new Phone('today-live');
  await phone.enrol(request, 'E0101');
  const punch = phone.ok('punch', '--kind', 'in', '--site', 'cwb-store', '--face-key', FACE_KEY);
  expect(punch.decision).toBe('accepted');
  phone.ok('sync');

  await page.clock.runFor(31_000);
  await expect(row.getByTestId('first-in-link')).toHaveAttribute('href', `/console/punches/${punch.record_id}`);
  expect(['clocked_in', 'late']).toContain(await row.getByTestId('status').getAttribute('data-status'));
  expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
  await expect(page.getByTestId('today-as-of')).not.toHaveAttribute('data-stale', 'true');

  // Signed out elsewhere: the next refresh says the board is stale and keeps it.
  await page.context().clearCookies();
  await page.clock.runFor(31_000);
  await expect(page.getByTestId('today-as-of')).toHaveAttribute('data-stale', 'true');
  await expect(page.getByTestId('today-as-of')).toContainText('reload the page');
  await expect(row.getByTestId('first-in-link')).toBeVisible();
});

test('a manager sees only their own team', async ({ page }, testInfo) => {
  await signIn(page, MANAGER);
  // Lee's preferred language is Traditional Chinese.
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
  await expect(page.getByTestId('account-name')).toHaveText('Lee Ka Yan 李家欣');
  await expect(page.getByTestId('today-board')).toBeVisible();
  expect((await rowIds(page)).sort()).toEqual(['E1001', 'E1002']);
  await expect(page.getByTestId('today-row-E2001')).toHaveCount(0);
  await screenshot(page, testInfo, 'today-manager');
});

test('the language switch shows the console in Traditional Chinese', async ({ page }, testInfo) => {
  await signIn(page, HR, 'en');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
  await expect(page.locator('h1')).toContainText('今日出勤');
  await expect(page.getByTestId('sign-out')).toHaveText('登出');
  // The choice is remembered: the next page is in Chinese without the query.
  await page.goto('/console/today');
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
  await screenshot(page, testInfo, 'today-zh-hant');
});

test('signing out ends the session', async ({ page, context }) => {
  await signIn(page, HR, 'en');
  const session = (await context.cookies()).find((c) => c.name === 'daka_session');
  expect(session, 'a session cookie after signing in').toBeDefined();

  await page.getByTestId('sign-out').click();
  await expect(page).toHaveURL(/\/console\/login/);
  await expect(page.getByTestId('login-message')).toHaveText('You are signed out.');
  await page.goto('/console/today');
  await expect(page).toHaveURL(/\/console\/login/);

  // The old session id, sent again, no longer reaches Today.
  await context.addCookies([session!]);
  await page.goto('/console/today');
  await expect(page).toHaveURL(/\/console\/login/);
  await expect(page.getByTestId('today-board')).toHaveCount(0);
});

test('a wrong password shows the generic error', async ({ page }) => {
  await page.goto('/console/login?lang=en');
  await page.locator('input[name="email"]').fill(HR.email);
  await page.locator('input[name="password"]').fill('not-the-password-2026');
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('login-message')).toHaveText('The email or password is not correct.');
  await expect(page.getByTestId('today-board')).toHaveCount(0);

  // An email no account has gets the very same answer.
  await page.locator('input[name="email"]').fill('nobody@harbour-lane.example');
  await page.locator('input[name="password"]').fill('not-the-password-2026');
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('login-message')).toHaveText('The email or password is not correct.');
});

test.describe('accessibility (axe-core)', () => {
  const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  async function seriousViolations(page: Page): Promise<string[]> {
    // The console's Content-Security-Policy (script-src 'self') blocks an injected
    // <script> element, so axe is evaluated through the DevTools protocol instead.
    await page.evaluate(axeSource);
    const results = await page.evaluate(async () => {
      // `axe` is the global that axe.min.js defines.
      const r = await (window as any).axe.run(document);
      return {
        passes: r.passes.length as number,
        violations: r.violations.map((v: any) => ({
          id: v.id as string, impact: v.impact as string, help: v.help as string,
          targets: v.nodes.map((n: any) => n.target.join(' ')) as string[],
        })),
      };
    });
    // axe really ran: it checked rules and some passed.
    expect(results.passes).toBeGreaterThan(0);
    for (const v of results.violations) {
      console.log(`axe ${v.impact}: ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
    }
    return results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} [${v.targets.join(', ')}]`);
  }

  test('the sign-in page has no serious or critical violations', async ({ page }) => {
    await page.goto('/console/login?lang=en');
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto('/console/login?lang=zh-Hant');
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('Today has no serious or critical violations', async ({ page }) => {
    await signIn(page, HR, 'en');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByTestId('lang-switch').click();
    await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
    expect(await seriousViolations(page)).toEqual([]);
  });
});

test.describe('on a phone (375 × 812)', () => {
  test.use({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });

  for (const lang of ['en', 'zh-Hant']) {
    test(`Today fits the screen without scrolling sideways (${lang})`, async ({ page }, testInfo) => {
      await signIn(page, HR, lang);
      await expect(page.getByTestId('today-board')).toBeVisible();
      const width = await page.evaluate(() => Math.max(
        document.documentElement.scrollWidth, document.body.scrollWidth));
      expect(width, 'page width in CSS pixels').toBeLessThanOrEqual(375 + 2);
      // The board itself fits too (it would otherwise scroll inside its own box).
      const board = await page.getByTestId('today-board').boundingBox();
      expect(board!.x).toBeGreaterThanOrEqual(0);
      expect(board!.x + board!.width, 'right edge of the board').toBeLessThanOrEqual(375 + 2);
      await expect(page.getByTestId('sign-out')).toBeInViewport();
      await expect(page.getByTestId('today-row-E1001')).toBeInViewport({ ratio: 0.5 });
      await screenshot(page, testInfo, `today-phone-${lang}`);
    });
  }
});
