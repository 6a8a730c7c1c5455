import { readFile } from 'node:fs/promises';
import { test, expect } from '@playwright/test';
import { admin, invite, otherBrowser, signIn, unique } from './helpers';

test('an admin filters the audit log down to one event, opens it and exports it', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  const email = unique('audited');
  await invite(page, email, 'Audrey Audited');

  await page.goto('/audit');
  await expect(page.getByTestId('audit-table')).toBeVisible();
  const filters = page.getByRole('search', { name: 'Filter events' });
  await filters.getByLabel('Target').fill(email);
  await filters.getByLabel('Action').selectOption('user.invited');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=user\.invited/);
  const rows = page.getByTestId('audit-row');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(email);
  await expect(rows.first()).toContainText('high');

  await rows.first().getByRole('link', { name: /Details of event/ }).click();
  await expect(page).toHaveURL(/\/audit\/\d+\?/);
  const detail = page.getByTestId('audit-detail');
  await expect(detail).toContainText(email);
  await expect(detail).toContainText('user.invited');
  await expect(detail).toContainText(admin.email);
  await expect(page.getByTestId('audit-details')).toContainText('"role": "developer"');

  // Back to the filtered list, which is still filtered, and its export.
  await page.getByRole('link', { name: '← Audit log' }).click();
  await expect(page.getByTestId('audit-row')).toHaveCount(1);
  const download = page.waitForEvent('download');
  await page.getByTestId('export-csv').click();
  const csv = await readFile((await (await download).path())!, 'utf8');
  const lines = csv.trim().split('\r\n');
  expect(lines[0]).toMatch(/^id,occurred_at,actor,/);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(email);
});

test('verifying integrity reports the log intact and records the check', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/audit');
  await page.getByRole('button', { name: 'Verify integrity' }).click();
  await expect(page).toHaveURL(/\/audit\/\d+$/);
  await expect(page.getByTestId('verification')).toContainText(/Intact through event #\d+/);
  await expect(page.getByTestId('audit-detail')).toContainText('audit.verified');

  await page.goto('/audit?action=audit.verified');
  await expect(page.getByTestId('audit-row').first()).toContainText(admin.email);
});

test('a viewer is refused the audit log with a 403', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  const email = unique('viewer');
  const password = await invite(page, email, 'Vic Viewer');
  const row = page.locator(`[data-testid=user-row][data-email="${email}"]`);
  await row.getByLabel('Role').selectOption('viewer');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator(`[data-testid=user-row][data-email="${email}"]`).getByLabel('Role')).toHaveValue('viewer');

  const { context, page: viewer } = await otherBrowser(browser);
  await signIn(viewer, email, password);
  const response = await viewer.goto('/audit');
  expect(response!.status()).toBe(403);
  await expect(viewer.getByTestId('page-problem')).toContainText('Admins only');
  await expect(viewer.getByTestId('audit-table')).toHaveCount(0);
  const report = await viewer.goto('/audit/permissions');
  expect(report!.status()).toBe(403);
  await expect(viewer.getByTestId('permission-changes')).toHaveCount(0);
  await context.close();

  // What this person did, from their row in Settings → Users.
  await page.goto('/settings/users');
  await page.getByRole('link', { name: `Activity of ${email}` }).click();
  await expect(page).toHaveURL(/\/audit\?actor=/);
  await expect(page.locator('[data-testid=audit-row][data-action="auth.login"]').first()).toContainText(email);
});

test('the permission report shows who gained a role, and a period narrows it', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  const email = unique('promoted');
  await invite(page, email, 'Pat Promoted');

  await page.goto('/audit');
  await page.getByRole('link', { name: 'Permission changes' }).click();
  await expect(page).toHaveURL(/\/audit\/permissions$/);
  const change = page.locator(`[data-testid=permission-change][data-subject="${email}"]`);
  await expect(change).toHaveCount(1);
  await expect(change).toContainText('gained');
  await expect(change).toContainText('developer');
  await expect(change).toContainText(admin.email);

  // The period is a GET form: it lands in the URL, and a day long past has no changes.
  const period = page.getByRole('form', { name: 'Period' });
  await period.getByLabel('From').fill('2020-01-01');
  await period.getByLabel('To').fill('2020-01-31');
  await period.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/from=2020-01-01&to=2020-01-31/);
  await expect(page.getByTestId('permission-count')).toContainText('0 changes');
  await expect(page.getByTestId('permission-change')).toHaveCount(0);

  // The change links to its audit event.
  await page.goto('/audit/permissions');
  await change.getByRole('link').click();
  await expect(page.getByTestId('audit-detail')).toContainText('user.invited');
});

test('an admin reads the usage insights, drawn on the server', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  const nonsense = `no-such-thing-${Date.now()}`;
  await page.goto(`/catalog?q=${nonsense}`);
  await page.goto('/audit');
  await page.getByRole('link', { name: 'Usage insights' }).click();
  await expect(page).toHaveURL(/\/audit\/insights$/);
  await expect(page.getByTestId('insight-chart')).toHaveCount(5);
  await expect(page.locator('[data-label="Password sign-ins"] svg')).toBeVisible();
  await expect(page.locator('[data-label="Active members per day"]')).toContainText(/latest [1-9]/);
  // Counts reach the database within a few seconds of the search.
  await expect
    .poll(async () => {
      await page.reload();
      return page.getByTestId('empty-searches').textContent();
    }, { timeout: 20_000 })
    .toContain(nonsense);
  await page.getByRole('link', { name: nonsense }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog\\?q=${nonsense}`));
});
