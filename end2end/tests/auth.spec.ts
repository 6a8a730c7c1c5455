import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

test('an anonymous visitor is sent to the sign-in page', async ({ page }) => {
  await page.goto('/settings/users');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('wrong credentials are refused without saying which part was wrong', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid email or password.');
  await expect(page).toHaveURL(/\/login/);
});

test('an admin signs in, sees the portal shell, and signs out', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page.getByTestId('tenant-name')).toHaveText('E2E Corp');
  const nav = page.getByRole('navigation', { name: 'Portal areas' });
  await nav.getByRole('link', { name: 'Plugins' }).click();
  await expect(page).toHaveURL(/\/plugins$/);
  await expect(page.getByRole('heading', { name: 'Plugins' })).toBeVisible();

  await page.goto('/logout');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('@hydrated the user menu opens only once the WASM app is live', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const menu = page.getByTestId('user-menu');
  await expect(menu).toBeHidden();
  await page.getByTestId('user-menu-button').click();
  await expect(menu).toBeVisible();
  await expect(menu).toContainText(admin.email);
  await menu.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
});
