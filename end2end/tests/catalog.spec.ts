import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

test.beforeEach(async ({ page }) => {
  await signIn(page, admin.email, admin.password);
});

test('the catalog filters by kind and facet, searches and pages, all in the URL', async ({ page }) => {
  await page.goto('/catalog');
  await expect(page.getByTestId('entity-row')).toHaveCount(25);
  await expect(page.getByText(/Page 1 of \d/)).toBeVisible();
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.getByText(/Page 2 of \d/)).toBeVisible();

  await page.getByRole('navigation', { name: 'Kinds' }).getByRole('link', { name: /^Component/ }).click();
  await expect(page).toHaveURL(/kind=component/);
  await expect(page.getByTestId('result-count')).toHaveText('13 entities');

  await page.getByTestId('facet-lifecycle').getByRole('link', { name: /production/ }).click();
  await expect(page).toHaveURL(/lifecycle=production/);
  await expect(page.getByTestId('result-count')).toHaveText('9 entities');

  await page.getByRole('searchbox', { name: 'Search the catalog' }).fill('wayback');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=wayback/);
  const rows = page.getByTestId('entity-row');
  await expect(rows.first()).toContainText('wayback');
  for (const row of await rows.all()) await expect(row).toContainText(/wayback/i);
  await expect(rows.first().locator('mark').first()).toHaveText(/wayback/i);
});

test('the list fits a 1400 px window and shows Markdown descriptions with their links', async ({ page }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto('/catalog?kind=component');
  const table = page.getByTestId('entity-table');
  await expect(table.locator('th').last()).toHaveText(/Lifecycle/);
  // Every column is inside the table's box: nothing cut off, nothing to scroll to.
  const overflow = await table.evaluate((t) => t.parentElement!.scrollWidth - t.parentElement!.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const link = page.getByTestId('description').getByRole('link', { name: 'The Petstore' });
  await expect(link).toHaveAttribute('href', 'http://petstore.example.com');
  await expect(table).not.toContainText('[The Petstore]');
});

test('an entity page shows its relations, which lead to their targets', async ({ page }) => {
  await page.goto('/catalog/default/component/petstore');
  await expect(page.getByRole('heading', { name: 'petstore' })).toBeVisible();
  const relations = page.getByTestId('relations');
  await expect(relations).toContainText('ownedBy');
  await expect(page.getByTestId('entity-yaml')).toContainText('providesApis');
  await expect(page.getByTestId('entity-history')).toContainText('catalog.entities_imported');
  await relations.getByRole('link', { name: 'group:default/team-c' }).click();
  await expect(page).toHaveURL(/\/catalog\/default\/group\/team-c$/);
  await expect(page.getByTestId('relations')).toContainText('component:default/petstore');

  // The graph's nodes are links too.
  await page.getByTestId('relations-graph').locator('a[href="/catalog/default/component/petstore"]').click();
  await expect(page).toHaveURL(/\/catalog\/default\/component\/petstore$/);
});

test('pasted YAML imports the good documents, reports the bad, and an entity can be deleted', async ({ page }) => {
  const name = `imported-${Date.now()}`;
  await page.goto('/catalog/import');
  await page.getByLabel('YAML documents').fill(
    `apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: ${name}\n  description: Added by the end-to-end test\n` +
      `spec:\n  type: database\n  owner: team-a\n---\nkind: Component\nmetadata:\n  name: Bad Name\n`,
  );
  await page.getByRole('button', { name: 'Import' }).click();
  const results = page.getByTestId('import-results');
  await expect(results).toContainText('1 created, 0 updated, 0 unchanged, 1 rejected');
  await expect(results).toContainText('metadata.name');

  await page.goto(`/catalog/default/resource/${name}`);
  await expect(page.getByRole('heading', { name })).toBeVisible();
  await page.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('alert')).toContainText('Tick the box');
  await page.getByLabel(`Yes, delete resource:default/${name}`).check();
  await page.getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/catalog$/);
  const gone = await page.goto(`/catalog/default/resource/${name}`);
  expect(gone!.status()).toBe(404);
});

test('an entity is created and edited in the editor, validated like the API', async ({ page }) => {
  const name = `edited-${Date.now()}`;
  const yaml = (extra: string) =>
    `apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: ${name}\n${extra}spec:\n  type: queue\n`;
  await page.goto('/catalog/new');
  await page.getByLabel('Entity YAML').fill(yaml(''));
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toContainText('spec.owner: is required');

  await page.getByLabel('Entity YAML').fill(yaml('') + '  owner: team-a\n');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/resource/${name}$`));

  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Entity YAML')).toHaveValue(new RegExp(`name: ${name}`));
  await page.getByLabel('Entity YAML').fill(yaml('  description: Orders waiting to ship\n') + '  owner: team-a\n');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/resource/${name}$`));
  await expect(page.getByText('Orders waiting to ship').first()).toBeVisible();
});

test('@hydrated an open catalog list shows another user\'s change without a reload', async ({ page, browser }) => {
  await page.goto('/catalog?kind=resource');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const name = `live-${Date.now()}`;
  await expect(page.getByText(name)).toHaveCount(0);

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, admin.email, admin.password);
  // Another user imports through the portal (Node cannot resolve *.localhost for API calls).
  await otherPage.goto('/catalog/import');
  await otherPage.getByLabel('YAML documents').fill(
    `apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: ${name}\nspec:\n  type: queue\n  owner: team-a\n`,
  );
  await otherPage.getByRole('button', { name: 'Import' }).click();
  await expect(otherPage.getByTestId('import-results')).toContainText('1 created');
  await other.close();

  await expect(page.getByTestId('entity-table')).toContainText(name);
});
