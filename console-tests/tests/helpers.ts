import { expect, type APIRequestContext, type Page, type TestInfo } from '@playwright/test';
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
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

/** The example organisation's admin token (public, in examples/seed.json). */
export const ADMIN_TOKEN = 'hl-demo-admin-token-change-me-0001';

/** The repository's root, where `examples/` is. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The test face matcher's key (public; see examples/keys/). */
export const FACE_KEY = path.join(REPO_ROOT, 'examples', 'keys', 'face-matcher-ed25519.private.jwk');

/** What one `daka phone` command printed, and its exit status. */
export interface PhoneResult {
  status: number;
  out: any;
  stderr: string;
}

/**
 * A simulated phone (`daka phone`, the real device runtime) in its own temporary folder.
 * Its times follow the server's clock, which scripts/console-tests.sh starts at a known
 * instant (DAKA_CONSOLE_CLOCK).
 */
export class Phone {
  readonly state: string;

  constructor(name: string) {
    this.state = fs.mkdtempSync(path.join(os.tmpdir(), `daka-phone-${name}-`));
  }

  /** Runs `daka phone --state <folder> <args>`; never throws on a non-zero exit. */
  run(...args: string[]): PhoneResult {
    const daka = process.env.DAKA_BIN ?? path.join(REPO_ROOT, 'target', 'debug', 'daka');
    const result = childProcess.spawnSync(daka, ['phone', '--state', this.state, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const text = (result.stdout ?? '').trim();
    let out: any = null;
    try {
      out = text ? JSON.parse(text) : null;
    } catch {
      out = text;
    }
    return { status: result.status ?? -1, out, stderr: result.stderr ?? '' };
  }

  /** Like `run`, but the command must succeed; returns its JSON. */
  ok(...args: string[]): any {
    const r = this.run(...args);
    expect(r.status, `daka phone ${args.join(' ')}: ${JSON.stringify(r.out)} ${r.stderr}`).toBe(0);
    return r.out;
  }

  /** Enrols with a fresh code for `employeeId` from the admin API. */
  async enrol(request: APIRequestContext, employeeId: string): Promise<any> {
    const code = await issueCode(request, employeeId);
    return this.ok('enroll', '--server', serverUrl(), '--code', code, '--name', `test phone ${employeeId}`);
  }
}

/** The server under test. */
export function serverUrl(): string {
  return process.env.DAKA_CONSOLE_URL ?? 'http://127.0.0.1:8080';
}

/** A one-time enrolment code for `employeeId`, issued with the admin token. */
export async function issueCode(request: APIRequestContext, employeeId: string): Promise<string> {
  const response = await request.post(`${serverUrl()}/admin/v1/enrollment-codes`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    data: { employee_id: employeeId },
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).code;
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
