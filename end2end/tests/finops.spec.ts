import { readFile } from 'node:fs/promises';
import { test, expect } from '@playwright/test';
import path from 'node:path';
import { admin, signIn } from './helpers';

const fixtures = path.join(__dirname, '../../server/tests/fixtures/finops');

test.beforeEach(async ({ page }) => {
  await signIn(page, admin.email, admin.password);
});

test('a bill uploaded on Sources imports with progress, and the overview shows its money with JS on or off', async ({ page }) => {
  await page.goto('/finops/sources');
  // The same source every run: importing its period again replaces it, so the totals stay put.
  await page.getByLabel('Source name').fill('azure-e2e');
  await page.getByLabel('Cost file').setInputFiles(path.join(fixtures, 'focus-converters-provider-samples/azure-ea-export-sample-anonymous.csv'));
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page).toHaveURL(/\/finops\/imports\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('progressbar', { name: 'Import progress' })).toBeVisible();
  await expect(page.getByTestId('cost-import-status')).toHaveText('Imported', { timeout: 15_000 });
  await expect(page.getByTestId('cost-import-summary')).toContainText('Azure usage export: 27 rows imported, 0 refused');
  await expect(page.getByTestId('cost-import-totals')).toContainText('1.26136926505726');

  await page.goto('/finops/sources');
  await expect(page.getByTestId('cost-imports')).toContainText('azure-e2e');

  await page.goto('/finops?view=invoice&currency=CAD');
  await expect(page.getByTestId('finops-total')).toHaveText('1.26 CAD');
  const services = page.locator('[data-testid="finops-breakdown"][data-title="Service"]');
  await expect(services.getByTestId('finops-row').first()).toBeVisible();
  await expect(page.getByTestId('finops-movers')).toBeVisible();
  // The charts are SVG drawn by the server: there with JavaScript off too.
  await expect(page.getByTestId('finops-daily').locator('svg')).toBeVisible();
  // The view as CSV, with the signed-in session: the total row carries the same money.
  const download = page.waitForEvent('download');
  await page.getByTestId('finops-export').click();
  const csv = (await readFile((await (await download).path())!, 'utf8')).split('\r\n');
  expect(csv[0]).toBe('section,name,amount,previous,currency,view');
  expect(csv[1]).toMatch(/^total,\d{4}-\d{2},1\.26,[^,]*,CAD,invoice$/);
  // The controls are a plain GET form.
  await page.getByLabel('View').selectOption('amortized');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/view=amortized/);
  await expect(page.getByTestId('finops-total')).toHaveText('1.26 CAD');
});

test('a bill with a broken row is refused whole, with the line and the reason', async ({ page }) => {
  const csv = [
    'BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ServiceName',
    '1.00,1.00,EUR,2024-09-01T00:00:00Z,2024-09-02T00:00:00Z,Compute',
    'a lot,1.00,EUR,2024-09-02T00:00:00Z,2024-09-03T00:00:00Z,Compute',
  ].join('\n');
  await page.goto('/finops/sources');
  await page.getByLabel('Source name').fill('broken-e2e');
  await page.getByLabel('Cost file').setInputFiles({ name: 'broken.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByTestId('cost-import-status')).toHaveText(/Refused/, { timeout: 15_000 });
  await expect(page.getByTestId('cost-import-error')).toContainText('line 3');
  await expect(page.getByTestId('cost-import-rejected')).toContainText('BilledCost: `a lot` is not an amount');
  // Nothing of it counts: no EUR on the overview.
  await page.goto('/finops?currency=EUR');
  await expect(page.getByTestId('finops-controls').getByLabel('Currency')).not.toContainText('EUR');
});

test('a rule written from the Unallocated list is previewed, added, and its cost shows on the entity page', async ({ page }) => {
  // Start from no rules (both projects and earlier runs use this tenant).
  await page.goto('/finops/allocation');
  for (let i = 0; i < 20 && (await page.getByTestId('allocation-rule').count()) > 0; i++) {
    await page.getByTestId('allocation-rule').first().getByRole('button', { name: 'Remove' }).click();
    await expect(page).toHaveURL(/\/finops\/allocation$/);
  }
  await expect(page.getByTestId('allocation-no-rules')).toBeVisible();

  const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
  const csv = [
    'BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ServiceName,ResourceId,Tags',
    `10.00,10.00,GBP,${day(2)}T00:00:00Z,${day(1)}T00:00:00Z,Compute,vm-e2e,"{""application"": ""e2e-alloc""}"`,
    `2.50,2.50,GBP,${day(1)}T00:00:00Z,${day(0)}T00:00:00Z,Storage,disk-e2e,"{""application"": ""e2e-alloc""}"`,
  ].join('\n');
  await page.goto('/finops/sources');
  await page.getByLabel('Source name').fill('alloc-e2e');
  await page.getByLabel('Cost file').setInputFiles({ name: 'alloc.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByTestId('cost-import-status')).toHaveText('Imported', { timeout: 15_000 });

  await page.goto('/finops/allocation');
  await page.getByTestId('unallocated-resources').getByRole('link', { name: 'application=e2e-alloc' }).first().click();
  await expect(page).toHaveURL(/kind=tag&key=application&pattern=e2e-alloc/);
  const form = page.getByTestId('rule-preview-form');
  await expect(form.getByLabel('Tag key')).toHaveValue('application');
  await form.getByLabel('Catalog entity').fill('component:default/petstore');
  await form.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByTestId('rule-preview')).toContainText('This rule would move 12.50 GBP from Unallocated to component:default/petstore');
  await page.getByRole('button', { name: 'Add this rule' }).click();
  await expect(page.getByTestId('allocation-rules')).toContainText('tag application = e2e-alloc → component:default/petstore');
  await expect(page.getByTestId('allocation-revision').first()).toContainText('added tag application = e2e-alloc');

  // The recompute runs on its own; the entity page shows the cost once it is done.
  await expect(async () => {
    await page.goto('/catalog/default/component/petstore');
    await expect(page.getByTestId('entity-cost-30')).toHaveText('12.50 GBP', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId('entity-cost-daily').locator('svg')).toBeVisible();

  // A shared pool ahead of it: the disk is split evenly between petstore and another team.
  await page.goto('/finops/allocation?kind=resource&pattern=disk-e2e&position=1');
  await form.getByLabel('Catalog entity').fill('shared-disks');
  await form.getByLabel('Goes to').selectOption('even');
  await form.getByLabel('Shared among').fill('petstore, group:default/team-a');
  await form.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByTestId('rule-preview')).toContainText('This rule would move 2.50 GBP from component:default/petstore to pool:shared-disks');
  await page.getByRole('button', { name: 'Add this rule' }).click();
  await expect(page.getByTestId('allocation-rule').first()).toContainText(
    'resource id = disk-e2e → pool:shared-disks, shared evenly among component:default/petstore, group:default/team-a',
  );
  await expect(async () => {
    await page.goto('/catalog/default/component/petstore');
    await expect(page.getByTestId('entity-cost-30')).toHaveText('11.25 GBP', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });

  // The team that owns petstore, from the overview's owners: its cost page, per entity it owns.
  await page.goto('/finops?currency=GBP');
  await page.locator('[data-testid=finops-breakdown][data-title=Owner]').getByRole('link', { name: 'group:default/team-c' }).click();
  await expect(page).toHaveURL(/\/finops\/teams\/default\/team-c$/);
  await expect(page.getByTestId('team-cost-title')).toHaveText('Cloud cost of group:default/team-c');
  await expect(page.getByTestId('entity-cost-30')).toHaveText('11.25 GBP');
  await expect(page.getByTestId('entity-cost-by-entity')).toContainText('component:default/petstore');
  await expect(page.getByTestId('team-no-anomalies')).toBeVisible();

  // Cost rolls up the catalog: boxoffice, the group above team-c, counts what its teams own,
  // and the overview breaks the month down by system and domain too.
  await page.goto('/finops/teams/default/boxoffice');
  await expect(page.getByTestId('entity-cost-30')).toHaveText('11.25 GBP');
  await expect(page.getByTestId('entity-cost-by-entity')).toContainText('component:default/petstore');
  await page.goto('/finops?currency=GBP');
  for (const title of ['System', 'Domain']) {
    await expect(page.locator(`[data-testid=finops-breakdown][data-title=${title}]`)).toBeVisible();
  }

  // Cost read as engineers once a maintainer says what one costs a month; cleared again after.
  const engineer = page.getByTestId('engineer-cost-form');
  await engineer.getByLabel("Engineer's monthly cost").fill('4.50');
  await engineer.getByLabel('Its currency').fill('GBP');
  await engineer.getByRole('button', { name: 'Save engineer cost' }).click();
  await expect(page.getByTestId('finops-engineers')).toContainText(/≈ \d+\.\d engineers? at 4\.50 GBP a month/);
  await page.goto('/finops/teams/default/team-c');
  await expect(page.getByTestId('entity-cost-engineers')).toHaveText('≈ 2.5 engineers a month');
  await page.goto('/finops?currency=GBP');
  await engineer.getByLabel("Engineer's monthly cost").fill('');
  await engineer.getByRole('button', { name: 'Save engineer cost' }).click();
  await expect(page.getByTestId('finops-engineers')).toHaveCount(0);
  await expect(engineer.getByLabel("Engineer's monthly cost")).toHaveValue('');

  // Every currency converted into a reporting one at the tenant's rates; removed again after.
  const rates = page.getByTestId('currency-rates-form');
  await rates.getByLabel('Reporting currency').fill('GBP');
  await rates.getByLabel('Rates (one per line: CAD 0.73)').fill('CAD 0.5\nUSD 0.8');
  await rates.getByRole('button', { name: 'Save rates' }).click();
  await expect(page.getByTestId('finops-controls').getByLabel('Currency')).toContainText('All, in GBP');
  await page.getByTestId('finops-controls').getByLabel('Currency').selectOption('all');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/currency=all/);
  await expect(page.getByTestId('finops-currency-note')).toContainText('Converted into GBP at');
  await expect(page.getByTestId('finops-total')).toContainText('GBP');
  await rates.getByLabel('Rates (one per line: CAD 0.73)').fill('');
  await rates.getByRole('button', { name: 'Save rates' }).click();
  await expect(page.getByTestId('finops-controls').getByLabel('Currency')).not.toContainText('All, in');
  await expect(page.getByTestId('finops-currency-note')).toContainText('Currencies are never added together.');
});

test('a budget shows its spend against the amount and the thresholds it crossed, and is removed', async ({ page }) => {
  // The Azure bill above is in CAD: a tiny budget on it is crossed at once.
  const name = `CAD budget ${Date.now()}`;
  await page.goto('/finops');
  await page.getByRole('link', { name: 'Budgets' }).click();
  await expect(page).toHaveURL(/\/finops\/budgets$/);
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Add budget' }) });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Thresholds (%)').fill('1, 1000 forecast');
  await form.getByLabel('Amount').fill('0.01');
  await form.getByLabel('Currency').fill('CAD');
  await form.getByRole('button', { name: 'Add budget' }).click();
  const budget = page.locator(`[data-testid=budget][data-name="${name}"]`);
  await expect(budget).toBeVisible();
  await expect(budget.getByTestId('budget-figures')).toContainText('CAD spent');
  await expect(budget.locator('[data-testid=budget-threshold]').first()).toHaveText('1% actual: crossed');
  await expect(budget.locator('[data-testid=budget-threshold]').nth(1)).toContainText('1000% forecast');

  await budget.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.locator(`[data-testid=budget][data-name="${name}"]`)).toHaveCount(0);
});

test('the anomalies page explains its method and keeps the floors', async ({ page }) => {
  await page.goto('/finops');
  await page.getByRole('link', { name: 'Anomalies' }).click();
  await expect(page).toHaveURL(/\/finops\/anomalies$/);
  await expect(page.getByText('robust z = 0.6745')).toBeVisible();
  await expect(page.getByTestId('anomalies')).toBeVisible();
  await page.getByLabel('Amount floor').fill('25');
  await page.getByRole('button', { name: 'Save floors' }).click();
  await expect(page.getByLabel('Amount floor')).toHaveValue('25');
  await page.reload();
  await expect(page.getByLabel('Amount floor')).toHaveValue('25');
  await page.getByLabel('Amount floor').fill('-3');
  await page.getByRole('button', { name: 'Save floors' }).click();
  await expect(page.getByRole('alert')).toContainText('The amount floor is a number of at least 0');
});
