import { expect, test, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import { FACE_KEY, HR, MANAGER, Phone, screenshot, signIn } from './helpers';

// Sites & policy: HR draws a new polygon fence on a site's map, watches the fence advisor,
// reviews the diff and publishes; a phone then fetches the new version. And a phone's punch
// on its evidence page. The new fence is added to the Kwai Chung depot next to its circle:
// every existing site, fence, employee and shift is kept.

test('HR draws a fence on the map, reviews the diff and publishes it to phones', async ({ page, request }, testInfo) => {
  const phone = new Phone('policy');
  expect((await phone.enrol(request, 'E0201')).employee_id).toBe('E0201');
  const before = phone.ok('policy').version as number;

  await signIn(page, HR);
  await page.getByTestId('nav-sites').click();
  await expect(page).toHaveURL(/\/console\/sites$/);
  const inForce = Number(await page.getByTestId('current-version').textContent());
  expect(inForce).toBe(before);
  await page.getByTestId('site-row-kc-depot').getByTestId('site-link').click();
  await expect(page).toHaveURL(/\/console\/sites\/kc-depot$/);

  const map = page.getByTestId('site-map');
  await expect(map).toBeVisible();
  await expect(page.getByTestId('map-scale')).toBeVisible();
  // The script draws the form's fences, with handles to drag.
  await expect(page.getByTestId('map-live-fence')).toHaveCount(1);
  const advisor = page.getByTestId('advisor');
  // The advisor answers for the fence as it is, without a click.
  await expect(advisor).toHaveAttribute('data-asked', /\d+/);
  await expect(page.getByTestId('advice-reviewed')).toHaveText(/^\d+(\.\d)? %$/);
  const askedBefore = Number(await advisor.getAttribute('data-asked'));

  // Click four corners of a square on the map, left of the depot's centre.
  const box = (await map.boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const corners = [
    [-0.42, -0.3], [-0.22, -0.3], [-0.22, 0.3], [-0.42, 0.3],
  ];
  for (const [dx, dy] of corners) {
    await page.mouse.click(cx + dx * box.width, cy + dy * box.height);
  }
  // The form fields follow the drawing.
  await expect(page.getByTestId('new-type')).toHaveValue('polygon');
  const vertices = (await page.getByTestId('new-vertices').inputValue()).split('\n');
  expect(vertices).toHaveLength(4);
  for (const line of vertices) {
    expect(line).toMatch(/^22\.3\d+, 114\.1\d+$/);
  }
  await expect(page.getByTestId('map-live-fence')).toHaveCount(2);
  // Drag the first corner of the new polygon: its line in the field follows.
  const handle = page.locator('#map-live [data-key="new"][data-what="v0"]');
  const at = (await handle.boundingBox())!;
  await page.mouse.move(at.x + at.width / 2, at.y + at.height / 2);
  await page.mouse.down();
  await page.mouse.move(at.x + at.width / 2 - 12, at.y + at.height / 2 - 12, { steps: 4 });
  await page.mouse.up();
  const dragged = (await page.getByTestId('new-vertices').inputValue()).split('\n');
  expect(dragged).toHaveLength(4);
  expect(dragged[0]).not.toBe(vertices[0]);
  expect(dragged.slice(1)).toEqual(vertices.slice(1));
  const [lat0, lon0] = vertices[0].split(', ').map(Number);
  const [lat1, lon1] = dragged[0].split(', ').map(Number);
  expect(lat1).toBeGreaterThan(lat0); // up is north
  expect(lon1).toBeLessThan(lon0); // left is west
  vertices.splice(0, 1, dragged[0]);
  // The advisor's numbers for the new shape arrive.
  await expect.poll(async () => Number(await advisor.getAttribute('data-asked'))).toBeGreaterThan(askedBefore);
  await expect(page.getByTestId('advice-out-100')).toHaveText(/^\d+(\.\d)? %$/);
  const withFence = await page.getByTestId('advice-reviewed').textContent();

  // A tolerance changes what the advisor predicts for people outside.
  const asked = Number(await advisor.getAttribute('data-asked'));
  const out30 = await page.getByTestId('advice-out-30').textContent();
  await page.getByTestId('field-tolerance').fill('60');
  await expect.poll(async () => Number(await advisor.getAttribute('data-asked'))).toBeGreaterThan(asked);
  await expect(page.getByTestId('advice-out-30')).not.toHaveText(out30!);
  expect(withFence).toMatch(/%$/);
  await page.getByTestId('field-tolerance').fill('');
  await screenshot(page, testInfo, 'policy-site-drawn');

  // Save to the draft; the page comes back with the polygon as a fence of its own.
  await page.getByTestId('save-site').click();
  await expect(page.getByTestId('saved-notice')).toBeVisible();
  await expect(page.getByTestId('fence-f1')).toBeVisible();
  await expect(page.getByTestId('f1-vertices')).toHaveValue(vertices.join('\n'));

  // Review: the diff shows the new polygon, marked with "+".
  await page.getByTestId('review-link').click();
  await expect(page).toHaveURL(/\/console\/policy\/review$/);
  const diff = page.getByTestId('policy-diff');
  await expect(diff).toBeVisible();
  await expect(diff.getByTestId('diff-add').filter({ hasText: '"Polygon"' })).toHaveCount(1);
  await expect(diff.getByTestId('diff-add').filter({ hasText: `"version": ${inForce + 1}` })).toHaveCount(1);
  await expect(diff.getByTestId('diff-add').first().locator('td.sign')).toContainText('+');
  await screenshot(page, testInfo, 'policy-review-diff');

  await page.getByTestId('publish').click();
  await expect(page.getByTestId('published-version')).toHaveText(String(inForce + 1));
  await expect(page.getByTestId('no-changes')).toBeVisible();

  // The phone fetches the new version.
  expect(phone.ok('policy').version).toBe(inForce + 1);
});

test('dragging a circle moves and resizes it in the form (nothing saved)', async ({ page }) => {
  await signIn(page, HR);
  await page.goto('/console/sites/kc-depot');
  const centre = page.locator('#map-live [data-key="f0"][data-what="center"]');
  const edge = page.locator('#map-live [data-key="f0"][data-what="edge"]');
  const drag = async (handle: typeof centre, dx: number, dy: number) => {
    const b = (await handle.boundingBox())!;
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width / 2 + dx, b.y + b.height / 2 + dy, { steps: 4 });
    await page.mouse.up();
  };
  const radius = Number(await page.getByTestId('f0-radius').inputValue());
  await drag(edge, 30, 0);
  expect(Number(await page.getByTestId('f0-radius').inputValue())).toBeGreaterThan(radius);
  const before = await page.getByTestId('f0-center').inputValue();
  await drag(centre, 0, 25);
  const after = await page.getByTestId('f0-center').inputValue();
  expect(Number(after.split(', ')[0])).toBeLessThan(Number(before.split(', ')[0])); // down is south
});

test('a manager sees the sites read only', async ({ page }) => {
  await signIn(page, MANAGER, 'en');
  await page.goto('/console/sites/cwb-store');
  await expect(page.getByTestId('site-map')).toBeVisible();
  await expect(page.getByTestId('read-only').first()).toBeVisible();
  await expect(page.getByTestId('save-site')).toHaveCount(0);
  await expect(page.getByTestId('field-name')).toHaveAttribute('readonly', '');
});

test('the evidence page of a phone punch shows the map and the reasons', async ({ page, request }, testInfo) => {
  // Lam (E2001, Kwun Tong warehouse): nobody else clocks him in, so this punch is his first.
  const phone = new Phone('evidence');
  expect((await phone.enrol(request, 'E2001')).employee_id).toBe('E2001');
  const punch = phone.ok('punch', '--kind', 'in', '--site', 'kb-warehouse', '--face-key', FACE_KEY);
  expect(punch.decision).toBe('accepted');
  phone.ok('sync');

  await signIn(page, HR);
  // Today links the first clock-in to its evidence.
  const row = page.getByTestId('today-row-E2001');
  await expect(row.getByTestId('first-in-link')).toHaveAttribute('href', `/console/punches/${punch.record_id}`);
  await row.getByTestId('first-in-link').click();
  await expect(page).toHaveURL(new RegExp(`/console/punches/${punch.record_id}$`));
  await expect(page.getByTestId('punch-kind')).toHaveText('in');
  await expect(page.getByTestId('punch-employee')).toContainText('E2001');
  await expect(page.getByTestId('punch-decision')).toHaveAttribute('data-decision', 'accepted');
  await expect(page.getByTestId('punch-reason').first()).toBeVisible();
  await expect(page.getByTestId('punch-location')).toContainText('accuracy_m');
  const map = page.getByTestId('punch-map-section').getByTestId('site-map');
  await expect(map).toBeVisible();
  await expect(map.getByTestId('map-fix')).toHaveCount(1);
  await expect(map.getByTestId('map-fence').first()).toBeVisible();
  await expect(page.getByTestId('face-status')).toHaveAttribute('data-face', 'verified');
  await expect(page.getByTestId('chain-status')).toHaveAttribute('data-ok', 'true');
  await screenshot(page, testInfo, 'punch-evidence');

  // Lee manages the store, not the warehouse: Lam's punch is not found for her, exactly
  // like one that does not exist.
  await page.getByTestId('sign-out').click();
  await signIn(page, MANAGER);
  const other = await page.goto(`/console/punches/${punch.record_id}`);
  expect(other?.status()).toBe(404);
  // Her own team's clock-ins open from Today, in Chinese (Cheung's first of the day: this
  // one, or an earlier one when other tests ran first).
  const cheung = new Phone('evidence-team');
  await cheung.enrol(request, 'E1002');
  expect(cheung.ok('punch', '--kind', 'in', '--site', 'cwb-store', '--face-key', FACE_KEY).decision).toBe('accepted');
  cheung.ok('sync');
  await page.goto('/console/today');
  const mine = page.getByTestId('today-row-E1002').getByTestId('first-in-link');
  await expect(mine).toHaveAttribute('href', /^\/console\/punches\/[0-9a-f-]{36}$/);
  await mine.click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-Hant');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('打卡證據');
  await expect(page.getByTestId('punch-employee')).toContainText('E1002');
});

test.describe('accessibility and phones', () => {
  const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  // axe through the DevTools protocol: the console's CSP refuses an injected <script>.
  async function seriousViolations(page: Page): Promise<string[]> {
    await page.evaluate(axeSource);
    const r = await page.evaluate(async () => {
      const x = await (window as any).axe.run(document);
      return {
        passes: x.passes.length as number,
        violations: x.violations.map((v: any) => ({
          id: v.id as string, impact: v.impact as string,
          targets: v.nodes.map((n: any) => n.target.join(' ')) as string[],
        })),
      };
    });
    expect(r.passes).toBeGreaterThan(0);
    return r.violations
      .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: any) => `${v.impact} ${v.id} [${v.targets.join(', ')}]`);
  }

  test('the policy pages have no serious or critical violations', async ({ page }) => {
    await signIn(page, HR, 'en');
    for (const path of ['/console/sites', '/console/sites/cwb-store', '/console/policy', '/console/policy/review']) {
      await page.goto(path);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await page.goto('/console/sites/cwb-store?lang=zh-Hant');
    expect(await seriousViolations(page)).toEqual([]);
  });

  test.describe('on a phone (375 × 812)', () => {
    test.use({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });

    test('the site page fits without scrolling sideways', async ({ page }, testInfo) => {
      await signIn(page, HR, 'en');
      await page.goto('/console/sites/cwb-store');
      await expect(page.getByTestId('site-map')).toBeVisible();
      const width = await page.evaluate(() => Math.max(
        document.documentElement.scrollWidth, document.body.scrollWidth));
      expect(width, 'page width in CSS pixels').toBeLessThanOrEqual(375 + 2);
      const map = (await page.getByTestId('site-map').boundingBox())!;
      expect(map.x + map.width).toBeLessThanOrEqual(375 + 2);
      await screenshot(page, testInfo, 'policy-site-phone');
    });
  });
});
