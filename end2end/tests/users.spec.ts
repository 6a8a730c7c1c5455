import { test, expect } from '@playwright/test';
import { admin, signIn, unique } from './helpers';

test('an admin invites a viewer, who is refused the users page with a 403', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/users');
  await expect(page.getByTestId('users-table')).toContainText(admin.email);

  const email = unique('viewer');
  const invite = page.locator('form', { has: page.getByRole('button', { name: 'Invite' }) });
  await invite.getByLabel('Email').fill(email);
  await invite.getByLabel('Name').fill('Vera Viewer');
  await invite.getByLabel('Role').selectOption('viewer');
  await invite.getByRole('button', { name: 'Invite' }).click();
  const password = (await page.getByTestId('one-time-password').textContent())!.trim();
  expect(password).toHaveLength(20);
  await expect(page.locator(`[data-testid=user-row][data-email="${email}"]`)).toContainText('Vera Viewer');

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await signIn(viewer, email, password);
  const response = await viewer.goto('/settings/users');
  expect(response!.status()).toBe(403);
  await expect(viewer.getByTestId('page-problem')).toContainText('Admins only');
  await expect(viewer.getByTestId('users-table')).toHaveCount(0);
  await viewerContext.close();
});

test('an admin changes a role and deactivates a user', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/users');
  const email = unique('dev');
  const invite = page.locator('form', { has: page.getByRole('button', { name: 'Invite' }) });
  await invite.getByLabel('Email').fill(email);
  await invite.getByLabel('Name').fill('Dev Person');
  await invite.getByRole('button', { name: 'Invite' }).click();
  const row = page.locator(`[data-testid=user-row][data-email="${email}"]`);
  await expect(row).toBeVisible();

  await row.getByLabel('Role').selectOption('maintainer');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator(`[data-testid=user-row][data-email="${email}"]`).getByLabel('Role')).toHaveValue('maintainer');

  await page.getByRole('button', { name: `Sign out ${email} everywhere` }).click();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.locator(`[data-testid=user-row][data-email="${email}"]`).getByRole('button', { name: 'Deactivate' }).click();
  await expect(page.locator(`[data-testid=user-row][data-email="${email}"]`).getByTestId('user-status')).toHaveText('Deactivated');
});
