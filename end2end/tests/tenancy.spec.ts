import { test, expect } from '@playwright/test';

test('a host naming no tenant gets a clear 404 page', async ({ page }) => {
  const response = await page.goto(`http://no-such-tenant.localhost:${process.env.E2E_PORT}/`);
  expect(response!.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'No portal here' })).toBeVisible();
});
