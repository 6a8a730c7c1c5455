import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { admin, invite, otherBrowser, signIn, unique } from './helpers';

// The test command imports the YC directory (5,950 companies) into the tenant.

test('a brief is generated and followed to ready, a competitor says why, and the PDF downloads', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/briefs');
  await page.getByLabel('Company', { exact: true }).fill('Infracost');
  await page.getByRole('button', { name: 'Generate brief' }).click();
  await expect(page).toHaveURL(/\/briefs\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('brief-target')).toHaveText('Infracost');
  // With JavaScript the page hears the generator's progress; without, it refreshes itself.
  await expect(page.getByTestId('brief-status')).toHaveText('Ready', { timeout: 15_000 });
  await expect(page.getByTestId('threat-score')).toHaveText(/^\d{1,3}$/);
  const competitors = page.getByTestId('competitor');
  await expect(competitors).toHaveCount(10);
  await expect(page.getByTestId('competitors')).toContainText('Dashdive');

  const why = competitors.first().getByTestId('competitor-why');
  await why.locator('summary').click();
  await expect(why.getByTestId('contribution')).toHaveCount(6);
  await expect(why).toContainText('text');
  // The e2e tenant's companies are embedded before the suite (scripts/test.sh).
  await expect(why).toContainText('similar meaning (embedding similarity 0.');
  await expect(page.getByTestId('positioning-chart').locator('circle')).toHaveCount(10);

  const download = page.waitForEvent('download');
  await page.getByTestId('brief-pdf').click();
  const file = await (await download).path();
  expect(readFileSync(file!).subarray(0, 5).toString()).toBe('%PDF-');

  await page.goto('/briefs');
  await expect(page.getByTestId('briefs-scope')).toContainText('All briefs');
  await expect(page.getByTestId('brief-row').filter({ hasText: 'Infracost' }).first()).toBeVisible();
});

test('an analyst sees only their own briefs, not another\'s page or PDF', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/briefs');
  await page.getByLabel('Company', { exact: true }).fill('Cortex');
  await page.getByRole('button', { name: 'Generate brief' }).click();
  await expect(page.getByTestId('brief-status')).toHaveText('Ready', { timeout: 15_000 });
  const adminBrief = new URL(page.url()).pathname;

  const email = unique('analyst');
  const password = await invite(page, email, 'Ana Lyst');
  const analyst = await otherBrowser(browser);
  await signIn(analyst.page, email, password);
  await analyst.page.goto('/briefs');
  await expect(analyst.page.getByTestId('briefs-scope')).toContainText('Your briefs');
  await expect(analyst.page.getByTestId('brief-row')).toHaveCount(0);
  await analyst.page.getByLabel('Company', { exact: true }).fill('Dashdive');
  await analyst.page.getByRole('button', { name: 'Generate brief' }).click();
  await expect(analyst.page.getByTestId('brief-status')).toHaveText('Ready', { timeout: 15_000 });
  await analyst.page.goto('/briefs');
  await expect(analyst.page.getByTestId('brief-row')).toHaveCount(1);
  await expect(analyst.page.getByTestId('brief-row')).toHaveAttribute('data-company', 'Dashdive');

  await analyst.page.goto(adminBrief);
  await expect(analyst.page.getByTestId('page-problem')).toContainText('Not found');
  const pdf = await analyst.page.goto(`/api/briefs/${adminBrief.split('/').pop()}/pdf`);
  expect(pdf!.status()).toBe(404);
  await analyst.context.close();
});

test('company data: an upload imports with a report, and a company with sensitive fields is added and edited', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/briefs/companies');
  await expect(page.getByTestId('company-count')).toContainText('companies');
  const name = `Lumen Cost ${Date.now()}`;
  const csv = `Company,Pitch,Site,Raised\n${name},Cloud cost visibility for Kubernetes teams,https://lumen-${Date.now()}.example.com,"12,500,000"\n,nameless,,\n`;
  await page.getByLabel('Company file').setInputFiles({ name: 'companies.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByPlaceholder('one_liner=tagline').fill('name=Company, one_liner=Pitch, website=Site, funding=Raised');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(page.getByTestId('import-report')).toContainText('1 created');
  await expect(page.getByTestId('import-report')).toContainText('1 refused');

  await page.getByLabel('Search companies').fill(name);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name }).click();
  const sensitive = page.getByTestId('sensitive-fields');
  await expect(sensitive.getByLabel('Funding')).toHaveValue('12,500,000');
  await sensitive.getByLabel('Notes').fill('Met the founders in Lisbon');
  await page.getByLabel('Tags (comma separated)').fill('FinOps, Kubernetes');
  const url = page.url();
  const saved = page.waitForResponse((r) => r.url().includes('/api/ui/briefs/company/save'));
  await page.getByRole('button', { name: 'Save company' }).click();
  await saved;
  // Read back on a fresh load (without JavaScript the save's redirect may still be landing).
  await expect(async () => {
    await page.goto(url);
    await expect(page.getByTestId('sensitive-fields').getByLabel('Notes')).toHaveValue('Met the founders in Lisbon', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByLabel('Tags (comma separated)')).toHaveValue('FinOps, Kubernetes');
});
