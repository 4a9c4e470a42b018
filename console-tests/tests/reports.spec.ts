import { test, expect, type Page } from '@playwright/test';
import ExcelJS from 'exceljs';
import { FACE_KEY, HR, MANAGER, Phone, pageWidth, screenshot, seriousAxeViolations, signIn } from './helpers';

/** A month nobody else's tests use, so that locking it changes nothing they see. */
const OLD_MONTH = '2025-06';

/** The text of the sheet's cell `field` in the row of `id`. */
async function sheetCell(page: Page, id: string, field: string): Promise<string> {
  return (await page.getByTestId(`report-row-${id}`).getByTestId(field).innerText()).trim();
}

test('HR reads the month, drills into an employee and downloads the XLSX', async ({ page }, testInfo) => {
  await signIn(page, HR, 'en');
  await page.getByTestId('nav-reports').click();
  await expect(page).toHaveURL(/\/console\/reports$/);
  const month = (await page.getByTestId('reports-month').innerText()).trim();
  expect(month).toMatch(/^\d{4}-\d{2}$/);
  const sheet = page.getByTestId('report-sheet');
  await expect(sheet).toBeVisible();
  for (const id of ['E0001', 'E0101', 'E1001', 'E1002', 'E0201', 'E2001']) {
    await expect(sheet.getByTestId(`report-row-${id}`)).toBeVisible();
  }
  await expect(sheet.getByTestId('report-row-E1001')).toContainText('Chan Tai Man 陳大文');
  const daysDue = await sheetCell(page, 'E1001', 'days_due');
  const absences = await sheetCell(page, 'E1001', 'absences');
  const lateMin = await sheetCell(page, 'E1001', 'late_min');
  const worked = await sheetCell(page, 'E1001', 'worked_hours');
  expect(daysDue).toMatch(/^\d+$/);
  expect(worked).toMatch(/^\d+\.\d\d$/);
  await screenshot(page, testInfo, 'reports-hr');
  expect(await seriousAxeViolations(page)).toEqual([]);

  // Drill-down: one row per day of the month, each with a status.
  await page.getByTestId('drill-E1001').click();
  await expect(page).toHaveURL(new RegExp(`/console/reports/${month}/E1001$`));
  await expect(page.getByTestId('employee-name')).toHaveText('Chan Tai Man 陳大文');
  const days = page.getByTestId('employee-days').locator('tbody tr');
  const [year, mm] = month.split('-').map(Number);
  expect(await days.count()).toBe(new Date(year, mm, 0).getDate());
  const first = page.getByTestId(`day-${month}-01`);
  await expect(first.getByTestId('day-status')).toHaveAttribute('data-status', /^[a-z_]+$/);
  await expect(first.getByTestId('worked_min')).toHaveText(/^\d+$/);
  await screenshot(page, testInfo, 'report-employee');
  expect(await seriousAxeViolations(page)).toEqual([]);
  await page.getByTestId('back-to-sheet').click();
  await expect(page.getByTestId('report-sheet')).toBeVisible();

  // The XLSX, downloaded through the page, holds the sheet's numbers.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download-xlsx').click(),
  ]);
  expect(download.suggestedFilename()).toBe(`attendance-${month}.xlsx`);
  const file = testInfo.outputPath(download.suggestedFilename());
  await download.saveAs(file);
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  expect(book.worksheets.map((w) => w.name)).toEqual(['Summary', 'Days', 'Warnings']);
  const summary = book.getWorksheet('Summary')!;
  const header = (summary.getRow(1).values as unknown[]).map((v) => String(v ?? ''));
  const col = (title: string) => {
    const i = header.indexOf(title);
    expect(i, `column ${title}`).toBeGreaterThan(0);
    return i;
  };
  let row: ExcelJS.Row | undefined;
  summary.eachRow((r) => { if (r.getCell(1).value === 'E1001') row = r; });
  expect(row, 'E1001 in the workbook').toBeDefined();
  expect(row!.getCell(2).value).toBe('Chan Tai Man 陳大文');
  expect(String(row!.getCell(col('Days due')).value)).toBe(daysDue);
  expect(String(row!.getCell(col('Absences')).value)).toBe(absences);
  expect(String(row!.getCell(col('Late minutes')).value)).toBe(lateMin);
  expect(Number(row!.getCell(col('Worked hours')).value).toFixed(2)).toBe(worked);
  expect(summary.rowCount).toBe(7);

  // The CSV too.
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download-csv').click(),
  ]);
  expect(csv.suggestedFilename()).toBe(`attendance-${month}-summary.csv`);
});

test('a clock-in from a phone shows in the drill-down with a link to its evidence', async ({ page, request }, testInfo) => {
  // A phone of this file's own (the real device runtime) clocks in at the store and syncs.
  const phone = new Phone('reports');
  expect((await phone.enrol(request, 'E1001')).employee_id).toBe('E1001');
  const punch = phone.ok('punch', '--kind', 'in', '--site', 'cwb-store', '--face-key', FACE_KEY);
  expect(punch.decision).toBe('accepted');
  expect(phone.ok('sync').remaining).toBe(0);

  await signIn(page, HR, 'en');
  await page.goto('/console/reports');
  await page.getByTestId('drill-E1001').click();
  const link = page.locator(`a[data-testid="punch-link"][data-record-id="${punch.record_id}"]`);
  await expect(link).toHaveCount(1);
  await expect(link).toHaveAttribute('href', `/console/punches/${punch.record_id}`);
  await expect(link).toHaveAttribute('data-status', 'accepted');
  await expect(link).toHaveText(/^\d\d:\d\d in \(accepted\)$/);
  // Its day counts the lateness (the store opens at 10:00; the server's clock starts later).
  const day = link.locator('xpath=ancestor::tr');
  expect(Number((await day.getByTestId('late_min').innerText()).trim())).toBeGreaterThan(0);
  await screenshot(page, testInfo, 'report-employee-punch');
});

test('HR locks a month, sees it locked, and unlocks it again', async ({ page }, testInfo) => {
  await signIn(page, HR, 'en');
  await page.goto('/console/reports');
  await page.getByTestId('reports-month-input').fill(OLD_MONTH);
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(new RegExp(`month=${OLD_MONTH}`));
  await expect(page.getByTestId('reports-month')).toHaveText(OLD_MONTH);
  await expect(page.getByTestId('lock-state')).toHaveAttribute('data-locked', 'false');

  await page.getByTestId('lock-month').click();
  await expect(page.getByTestId('reports-done')).toHaveText('The month is locked.');
  await expect(page.getByTestId('lock-state')).toHaveAttribute('data-locked', 'true');
  await expect(page.getByTestId('lock-state')).toContainText('Locked for payroll');
  await expect(page.getByTestId('lock-event').last()).toContainText('locked');
  await screenshot(page, testInfo, 'reports-locked');

  // Put it back as it was for everyone else.
  await page.getByTestId('unlock-month').click();
  await expect(page.getByTestId('reports-done')).toHaveText('The month is unlocked.');
  await expect(page.getByTestId('lock-state')).toHaveAttribute('data-locked', 'false');
  await expect(page.getByTestId('lock-event').last()).toContainText('unlocked');

  // The audit page lists both, with the account.
  await page.getByTestId('nav-audit').click();
  await page.locator('#audit-action').selectOption('month_locked');
  await page.getByTestId('audit-apply').click();
  const locked = page.locator('tr[data-action="month_locked"]').first();
  await expect(locked).toContainText(OLD_MONTH);
  await expect(locked).toContainText('hr@harbour-lane.example');
});

test('a manager sees only the team, in Chinese, and no lock button', async ({ page }, testInfo) => {
  await signIn(page, MANAGER);
  await page.getByTestId('nav-reports').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
  await expect(page.locator('h1')).toContainText('每月出勤');
  const ids = await page.locator('tr[data-testid^="report-row-"]').evaluateAll((rows) =>
    rows.map((r) => (r.getAttribute('data-testid') ?? '').replace('report-row-', '')));
  expect(ids).toEqual(['E1001', 'E1002']);
  await expect(page.getByTestId('lock-month')).toHaveCount(0);
  await expect(page.getByTestId('nav-audit')).toHaveCount(0);
  await expect(page.getByTestId('nav-accounts')).toHaveCount(0);
  // Another team's employee: not found, nothing shown.
  const month = (await page.getByTestId('reports-month').innerText()).trim();
  const other = await page.goto(`/console/reports/${month}/E0201`);
  expect(other!.status()).toBe(404);
  await expect(page.getByTestId('employee-days')).toHaveCount(0);
  await expect(page.getByTestId('notice-message')).toHaveText('員工：你可查看的員工中沒有此員工。');
  await screenshot(page, testInfo, 'reports-manager-zh-hant');
});

test.describe('on a phone (375 × 812)', () => {
  test.use({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });

  test('the Reports page fits without scrolling sideways', async ({ page }, testInfo) => {
    await signIn(page, HR, 'en');
    await page.goto('/console/reports');
    await expect(page.getByTestId('report-sheet')).toBeVisible();
    expect(await pageWidth(page), 'page width').toBeLessThanOrEqual(375 + 2);
    await expect(page.getByTestId('download-xlsx')).toBeInViewport();
    await screenshot(page, testInfo, 'reports-phone');
  });
});
