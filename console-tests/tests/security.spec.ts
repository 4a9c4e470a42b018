import { test, expect, type APIRequestContext } from '@playwright/test';
import { ADMIN_TOKEN, HR, MANAGER, screenshot, serverUrl, signIn } from './helpers';

// The console's defences, seen from a real browser: CSRF, session fixation, another team's
// ids, and names from a policy that carry markup.

test('a state change without the CSRF token is refused and changes nothing', async ({ page }) => {
  await signIn(page, HR, 'en');
  // The browser's own cookies go along (same origin), but not the form's token.
  for (const form of [{}, { csrf: 'forged-token' }]) {
    const r = await page.request.post('/console/sessions/revoke-all', { form });
    expect(r.status(), JSON.stringify(form)).toBe(403);
  }
  const lock = await page.request.post('/console/reports/lock', {
    form: { csrf: 'forged-token', month: '2026-11', action: 'lock' },
  });
  expect(lock.status()).toBe(403);
  const locks = await page.request.get(`${serverUrl()}/admin/v1/attendance/locks`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(locks.status()).toBe(200);
  expect(JSON.stringify(await locks.json())).not.toContain('2026-11');
  // Still signed in: "sign out everywhere" did not happen.
  await page.goto('/console/today');
  await expect(page).toHaveURL(/\/console\/today$/);
  await expect(page.getByTestId('account-name')).toHaveText('Wong Siu Ming 黃小明');
});

test('a session id planted before sign-in is not the one signed in', async ({ page, browser }) => {
  const planted = 'planted-by-an-attacker-0000000000000000';
  await page.context().addCookies([{ name: 'daka_session', value: planted, url: serverUrl() }]);
  await signIn(page, HR, 'en');
  const session = (await page.context().cookies()).find((c) => c.name === 'daka_session');
  expect(session?.value).toBeTruthy();
  expect(session?.value).not.toBe(planted);
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');

  // The attacker's browser, holding the planted id, is not signed in.
  const attacker = await browser.newContext();
  await attacker.addCookies([{ name: 'daka_session', value: planted, url: serverUrl() }]);
  const other = await attacker.newPage();
  await other.goto(`${serverUrl()}/console/today`);
  await expect(other).toHaveURL(/\/console\/login$/);
  await attacker.close();
});

test("a manager who guesses another team's ids finds nothing", async ({ page }) => {
  await signIn(page, MANAGER);
  // Lam (E2001) works at the warehouse, not in Lee's store team.
  for (const url of ['/console/people/E2001', '/console/reports/2026-12/E2001']) {
    const r = await page.goto(url);
    expect(r?.status(), url).toBe(404);
    await expect(page.locator('main')).not.toContainText('Lam Chi Keung');
  }
  // Her own team's answer.
  expect((await page.goto('/console/people/E1001'))?.status()).toBe(200);
});

/** The current policy document, parsed. */
async function currentPolicy(request: APIRequestContext): Promise<Record<string, any>> {
  const r = await request.get(`${serverUrl()}/admin/v1/policy`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(r.status()).toBe(200);
  return JSON.parse((await r.json()).document);
}

async function publish(request: APIRequestContext, policy: Record<string, any>): Promise<void> {
  const r = await request.put(`${serverUrl()}/admin/v1/policy`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    data: JSON.stringify(policy),
  });
  expect(r.status(), await r.text()).toBe(200);
}

test('names carrying markup are shown as text on every page', async ({ page, request }, testInfo) => {
  const original = await currentPolicy(request);
  const hostile = JSON.parse(JSON.stringify(original));
  const siteName = '<script>alert(1)</script> 倉';
  const personName = '<img src=x onerror=alert(2)> Lam';
  const warehouse = hostile.sites.find((s: { id: string }) => s.id === 'kb-warehouse');
  warehouse.name = siteName;
  hostile.employees.find((e: { id: string }) => e.id === 'E2001').name = personName;
  hostile.version = original.version + 1;
  await publish(request, hostile);
  try {
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    await signIn(page, HR, 'en');
    for (const url of ['/console/today', '/console/people', '/console/people/E2001', '/console/sites',
      '/console/sites/kb-warehouse', '/console/reports']) {
      await page.goto(url);
      await expect(page.locator('main'), url).toContainText(url.includes('sites') ? siteName : personName);
      // Nothing of it became markup.
      expect(await page.locator('main img[src="x"]').count(), url).toBe(0);
      expect(await page.locator('main script:not([src^="/console/assets/"])').count(), url).toBe(0);
    }
    await page.goto('/console/today');
    await screenshot(page, testInfo, 'today-markup-as-text');
    expect(dialogs).toEqual([]);
  } finally {
    // Put the example company's names back for anything that runs later.
    const now = await currentPolicy(request);
    await publish(request, { ...original, version: now.version + 1 });
  }
});
