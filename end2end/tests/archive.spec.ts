import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

// scripts/test.sh loads 500 events six months back (actor archived@example.com), sets a 30-day
// retention and archives with `server audit archive` before the portal starts.
function monthsAgo(back: number): string {
  const now = new Date();
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
  return month.toISOString().slice(0, 7);
}

test('an admin restores an archived month, finds its events on the audit page, and puts it back', async ({ page }) => {
  const month = monthsAgo(6);
  await signIn(page, admin.email, admin.password);
  await page.goto('/audit');
  await page.getByRole('link', { name: 'Archive' }).click();
  await expect(page).toHaveURL(/\/audit\/archive$/);
  const row = page.locator(`[data-testid=archived-month][data-month="${month}"]`);
  await expect(row).toHaveAttribute('data-state', 'archived');
  await expect(row).toContainText('500');

  // Its events are not in the database while archived.
  await page.goto('/audit?actor=archived%40example.com');
  await expect(page.getByTestId('audit-row')).toHaveCount(0);

  await page.goto('/audit/archive');
  await row.getByRole('button', { name: `Restore ${month}` }).click();
  await expect
    .poll(
      async () => {
        await page.goto('/audit/archive');
        return row.getAttribute('data-state');
      },
      { timeout: 30_000 },
    )
    .toBe('restored');

  await page.goto('/audit?actor=archived%40example.com');
  await expect(page.getByTestId('audit-row').first()).toBeVisible();
  await expect(page.getByTestId('audit-row').first()).toContainText('archived@example.com');

  await page.goto('/audit/archive');
  await row.getByRole('button', { name: `Put ${month} back` }).click();
  await expect(page.locator(`[data-testid=archived-month][data-month="${month}"]`)).toHaveAttribute('data-state', 'archived');
});

test('an admin changes the retention', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/audit/archive');
  const days = page.getByLabel('Days in the database');
  for (const value of ['60', '30']) {
    await days.fill(value);
    // With JavaScript the form posts in the background: reloading before its answer would
    // cancel it, so wait for the answer (without JavaScript it is the page load itself).
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save retention' }).click(),
    ]);
    await page.goto('/audit/archive');
    await expect(page.getByLabel('Days in the database')).toHaveValue(value);
  }
  await expect(page.getByTestId('archive-store')).toContainText('audit-archive');
});
