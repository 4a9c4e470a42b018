import { expect, type Page, type TestInfo } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const HR = { email: 'hr@harbour-lane.example', password: 'daka-demo-hr-2026' };
export const MANAGER = { email: 'lee@harbour-lane.example', password: 'daka-demo-manager-2026' };

/** Screenshots are kept as test artefacts in target/console-screenshots/ at the repository root. */
export const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', 'target', 'console-screenshots');

export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
}

/** Signs in; `lang` picks the language on the sign-in page (remembered), else the account's own. */
export async function signIn(page: Page, account: { email: string; password: string }, lang?: string): Promise<void> {
  await page.goto(lang ? `/console/login?lang=${lang}` : '/console/login');
  await page.locator('input[name="email"]').fill(account.email);
  await page.locator('input[name="password"]').fill(account.password);
  await page.getByTestId('sign-in').click();
  await expect(page).toHaveURL(/\/console\/today$/);
}
