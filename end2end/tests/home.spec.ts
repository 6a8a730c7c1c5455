import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

test('the home page shows what your team owns once the catalog knows you, and searches the catalog', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/');
  await expect(page.getByTestId('home-not-in-catalog')).toBeVisible();
  await expect(page.getByTestId('home-notifications')).toBeVisible();

  // A User entity with the admin's email, in Backstage's example Team B.
  const name = `e2e-admin-${Date.now()}`;
  await page.goto('/catalog/new');
  await page
    .getByLabel('Entity YAML')
    .fill(`apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ${name}\nspec:\n  profile:\n    email: ${admin.email}\n  memberOf: [team-b]\n`);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/user/${name}$`));

  await page.goto('/');
  await expect(page.getByTestId('home-teams')).toContainText('team-b');
  const owned = page.getByTestId('home-owned');
  await expect(owned.getByTestId('home-owned-entity')).not.toHaveCount(0);
  await owned.getByRole('link', { name: 'podcast-api', exact: true }).click();
  await expect(page).toHaveURL(/\/catalog\/default\/component\/podcast-api$/);

  await page.goto('/');
  await page.getByLabel('Search the catalog').fill('podcast');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/\/catalog\?q=podcast$/);

  // Leave the catalog as the other journeys expect it.
  await page.goto(`/catalog/default/user/${name}`);
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByLabel(`Yes, delete user:default/${name}`).check();
  await page.getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/catalog$/);
});
