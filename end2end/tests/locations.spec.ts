import { test, expect } from '@playwright/test';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { admin, signIn } from './helpers';

test.beforeEach(async ({ page }) => {
  await signIn(page, admin.email, admin.password);
});

/** A repository's raw files served on loopback; the test changes them between refreshes. */
async function repository(files: Map<string, string>) {
  const server = http.createServer((request, response) => {
    const body = files.get(request.url ?? '');
    response.statusCode = body === undefined ? 404 : 200;
    response.end(body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

// A Resource, so that even a failed run leaves the demo catalog's component counts alone.
const repoEntity = (name: string, description: string) =>
  `apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: ${name}\n  description: ${description}\n` +
  `spec:\n  type: queue\n  owner: team-a\n`;

test('a location is allowed, registered, refreshed and unregistered from the Locations page', async ({ page }, info) => {
  const name = `loc-${info.project.name}-${Date.now()}`;
  const files = new Map([[`/${name}/catalog-info.yaml`, repoEntity(name, 'First version')]]);
  const { server, origin } = await repository(files);
  try {
    await page.goto('/catalog/locations');
    const target = `${origin}/${name}/catalog-info.yaml`;
    await page.getByLabel('Location URL').fill(target);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await expect(page.getByRole('alert')).toContainText('allowlist');

    await page.getByLabel('Host pattern').fill(origin.slice('http://'.length));
    await page.getByRole('button', { name: 'Allow host' }).click();
    await expect(page.getByTestId('allowed-hosts')).toContainText(origin.slice('http://'.length));

    await page.getByLabel('Location URL').fill(target);
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    const row = page.getByTestId('location-row').filter({ hasText: target });
    // The resource and the generated Location entity.
    await expect(row.getByTestId('location-entities')).toHaveText('2');

    await page.goto(`/catalog/default/resource/${name}`);
    await expect(page.getByText('First version').first()).toBeVisible();

    files.set(`/${name}/catalog-info.yaml`, repoEntity(name, 'Second version'));
    await page.goto('/catalog/locations');
    await row.getByRole('button', { name: 'Refresh' }).click();
    // Without JS the click returns once the form post (and so the refresh) is answered; with
    // JS the server function reports back in place.
    if (info.project.name === 'js') await expect(page.getByRole('status')).toContainText('Refreshed');
    await page.goto(`/catalog/default/resource/${name}`);
    await expect(page.getByText('Second version').first()).toBeVisible();

    await page.goto('/catalog/locations');
    await row.getByRole('button', { name: 'Unregister' }).click();
    await expect(page.getByRole('alert')).toContainText('Tick the box');
    await row.getByLabel('and its entities').check();
    await row.getByRole('button', { name: 'Unregister' }).click();
    await expect(page.getByTestId('location-row').filter({ hasText: target })).toHaveCount(0);
    const gone = await page.goto(`/catalog/default/resource/${name}`);
    expect(gone!.status()).toBe(404);
  } finally {
    server.close();
  }
});

test('uploaded files import in the background with a live progress bar', async ({ page }, info) => {
  const prefix = `up-${info.project.name}-${Date.now()}`;
  // Resources, so the demo catalog's component counts that other tests check stay as they are.
  const resource = (i: number) =>
    `apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: ${prefix}-${i}\nspec:\n  type: bulk-queue\n  owner: team-a\n`;
  const many = Array.from({ length: 3000 }, (_, i) => resource(i)).join('---\n');
  await page.goto('/catalog/import');
  await page.getByLabel('Catalog files').setInputFiles([
    { name: 'bulk.yaml', mimeType: 'application/yaml', buffer: Buffer.from(many) },
    { name: 'bad.yaml', mimeType: 'application/yaml', buffer: Buffer.from('kind: [unclosed\n') },
  ]);
  await page.getByRole('button', { name: 'Upload' }).click();
  await expect(page).toHaveURL(/\/catalog\/import\/[0-9a-f-]{36}$/);
  const bar = page.getByRole('progressbar', { name: 'Import progress' });
  await expect(bar).toHaveAttribute('aria-valuemax', '3001');
  await expect(page.getByTestId('import-status')).toHaveText('Done', { timeout: 20_000 });
  await expect(bar).toHaveAttribute('aria-valuenow', '3001');
  await expect(page.getByTestId('import-results')).toContainText('3000 created, 0 updated, 0 unchanged, 1 rejected');
  await expect(page.getByTestId('import-results')).toContainText('YAML');
});
