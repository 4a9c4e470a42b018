import { test, expect } from '@playwright/test';
import { HR, pageWidth, screenshot, seriousAxeViolations, signIn } from './helpers';

test('HR invites an auditor, who reads the audit but can change nothing', async ({ page, browser }, testInfo) => {
  await signIn(page, HR, 'en');
  await page.getByTestId('nav-accounts').click();
  await expect(page).toHaveURL(/\/console\/accounts$/);
  await expect(page.locator('tr[data-email="lee@harbour-lane.example"]')).toBeVisible();
  expect(await seriousAxeViolations(page)).toEqual([]);

  // A mistake first: the error names the field and keeps what was typed.
  const form = page.getByTestId('invite-form');
  await form.locator('#invite-email').fill('auditor-ui@harbour-lane.example');
  await form.locator('#invite-name').fill('Yip Siu Wai 葉兆威');
  await form.locator('#invite-role').selectOption('manager');
  await page.getByTestId('invite-submit').click();
  await expect(page.getByTestId('form-error')).toHaveText(
    'Employee: a manager account needs an employee of the current policy.');
  await expect(page.locator('#invite-name')).toHaveValue('Yip Siu Wai 葉兆威');

  // Unique per run, so that the file can run again against the same server.
  const email = `auditor-${Date.now()}@harbour-lane.example`;
  await page.locator('#invite-email').fill(email);
  await page.locator('#invite-role').selectOption('auditor');
  await page.locator('#invite-employee').selectOption('');
  await page.getByTestId('invite-submit').click();
  await expect(page.getByTestId('shown-password')).toBeVisible();
  await expect(page.getByTestId('shown-email')).toHaveText(email);
  const password = (await page.getByTestId('shown-secret').innerText()).trim();
  expect(password).toHaveLength(20);
  const row = page.locator(`tr[data-email="${email}"]`);
  await expect(row.getByTestId('account-role')).toHaveAttribute('data-role', 'auditor');
  await expect(row.getByTestId('account-status')).toHaveAttribute('data-status', 'active');
  await screenshot(page, testInfo, 'accounts-invited');

  // The auditor, in a browser context of its own.
  const context = await browser.newContext();
  const auditor = await context.newPage();
  await signIn(auditor, { email, password }, 'en');
  await auditor.getByTestId('nav-audit').click();
  await expect(auditor).toHaveURL(/\/console\/audit$/);
  const created = auditor.locator('tr[data-action="account_created"]').filter({ hasText: email });
  await expect(created).toHaveCount(1);
  await expect(created).toContainText('hr@harbour-lane.example');
  // Read only: no buttons but signing out, no links to HR's pages.
  const buttons = await auditor.locator('main button').count();
  expect(buttons, 'buttons in the audit page').toBe(1); // the filter's
  await expect(auditor.locator('main form[method="post"]')).toHaveCount(0);
  await expect(auditor.getByTestId('nav-accounts')).toHaveCount(0);
  await expect(auditor.getByTestId('nav-api-tokens')).toHaveCount(0);
  expect(await seriousAxeViolations(auditor)).toEqual([]);
  await screenshot(auditor, testInfo, 'audit-auditor');

  // The accounts page is refused, and so is a forged POST with the auditor's own token.
  const refused = await auditor.goto('/console/accounts');
  expect(refused!.status()).toBe(403);
  await expect(auditor.getByTestId('notice-message')).toHaveText('Your role may not use this page or action.');
  await auditor.goto('/console/account');
  const csrf = await auditor.locator('input[name="csrf"]').first().inputValue();
  const forged = await auditor.request.post('/console/accounts/invite', {
    form: { csrf, email: 'forged@harbour-lane.example', name: 'Forged', role: 'hr_admin', language: 'en' },
  });
  expect(forged.status()).toBe(403);
  const lock = await auditor.request.post('/console/reports/lock', {
    form: { csrf, month: '2025-06', action: 'lock' },
  });
  expect(lock.status()).toBe(403);

  // HR sees nothing was created, and disables the auditor: its session ends at once.
  await page.goto('/console/accounts');
  await expect(page.locator('tr[data-email="forged@harbour-lane.example"]')).toHaveCount(0);
  await page.locator(`tr[data-email="${email}"]`).getByTestId('disable-account').click();
  await expect(page.getByTestId('accounts-done')).toHaveText('The account is disabled and its sessions are ended.');
  await expect(page.locator(`tr[data-email="${email}"]`).getByTestId('account-status'))
    .toHaveAttribute('data-status', 'disabled');
  await auditor.goto('/console/audit');
  await expect(auditor).toHaveURL(/\/console\/login/);
  await context.close();
});

test('My account rejects a wrong current password, in both languages', async ({ page }, testInfo) => {
  await signIn(page, HR, 'zh-Hant');
  await page.getByTestId('nav-account').click();
  await expect(page.locator('h1')).toHaveText('我的帳戶');
  await page.locator('#current-password').fill('not the password at all');
  await page.locator('#new-password').fill('another long password');
  await page.locator('#confirm-password').fill('another long password');
  await page.getByTestId('password-submit').click();
  await expect(page.getByTestId('form-error')).toHaveText('目前密碼：不正確。');
  expect(await seriousAxeViolations(page)).toEqual([]);
  await screenshot(page, testInfo, 'my-account-zh-hant');
});

test('HR creates a scoped API token, shown once, and revokes it', async ({ page, request }, testInfo) => {
  await signIn(page, HR, 'en');
  await page.getByTestId('nav-api-tokens').click();
  const form = page.getByTestId('token-form');
  const name = `payroll export ${Date.now()}`;
  await form.locator('#token-name').fill(name);
  await form.locator('input[name="scope"][value="reports:read"]').check();
  await page.getByTestId('token-submit').click();
  const token = (await page.getByTestId('shown-token').getByTestId('shown-secret').innerText()).trim();
  expect(token).toMatch(/^daka_at_[A-Za-z0-9_-]{43}$/);
  await screenshot(page, testInfo, 'api-token-created');

  // It reads the report, and nothing else.
  const month = new Date().toISOString().slice(0, 7);
  const ok = await request.get(`/admin/v1/reports/attendance?month=${month}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(ok.status()).toBe(200);
  const denied = await request.get('/admin/v1/devices', { headers: { Authorization: `Bearer ${token}` } });
  expect(denied.status()).toBe(403);
  expect((await denied.json()).code).toBe('insufficient_scope');

  await page.goto('/console/api-tokens');
  const row = page.locator('tr[data-testid="token-row"]').filter({ hasText: name });
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(row.getByTestId('token-last-used')).not.toHaveText('');
  await row.getByTestId('revoke-token').click();
  await expect(page.getByTestId('tokens-done')).toBeVisible();
  await expect(row).toHaveAttribute('data-state', 'revoked');
  const after = await request.get(`/admin/v1/reports/attendance?month=${month}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(after.status()).toBe(401);
});

test.describe('on a phone (375 × 812)', () => {
  test.use({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });

  test('the accounts page fits without scrolling sideways', async ({ page }, testInfo) => {
    await signIn(page, HR, 'en');
    await page.goto('/console/accounts');
    await expect(page.getByTestId('accounts-table')).toBeVisible();
    expect(await pageWidth(page), 'page width').toBeLessThanOrEqual(375 + 2);
    await screenshot(page, testInfo, 'accounts-phone');
  });
});
