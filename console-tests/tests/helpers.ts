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

// ---- reports, accounts, audit, API tokens ----

/**
 * The serious and critical axe-core violations of the page. The console's Content-Security-Policy
 * (script-src 'self') blocks an injected <script>, so axe is evaluated through the DevTools
 * protocol.
 */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
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
    .filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
    .map((v: { impact: string; id: string; help: string; targets: string[] }) =>
      `${v.impact} ${v.id}: ${v.help} [${v.targets.join(', ')}]`);
}

/** The page's width in CSS pixels (wider than the viewport means sideways scrolling). */
export async function pageWidth(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
}
