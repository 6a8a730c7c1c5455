import { expect, test, APIRequestContext, Page } from '@playwright/test';
import { admin, invite, otherBrowser, signIn, unique } from './helpers';

// The directory every Beacon starts with (Red Hat's marketplace, backstage.io's directory and
// Backstage's release manifests). The tenant's plugin set is shared by the js and no-js runs,
// so each journey starts from a known platform and removes what it installs.

async function setPlatform(page: Page, release: string) {
  await page.goto('/settings/plugins');
  const form = page.getByTestId('platform-form');
  await form.getByLabel('Runtime').selectOption('rhdh');
  await form.getByLabel('Backstage release').selectOption(release);
  await form.getByRole('button', { name: 'Save platform' }).click();
  await expect(page.getByTestId('platform')).toContainText(`Backstage ${release}`);
}

async function uninstallIfInstalled(page: Page, plugin: string) {
  await page.goto('/settings/plugins');
  const button = page.getByRole('button', { name: `Uninstall ${plugin}` });
  if (await button.count()) {
    await button.click();
    await expect(page.getByRole('button', { name: `Uninstall ${plugin}` })).toHaveCount(0);
  }
}

/** Roadie's Argo CD installed afresh on Backstage 1.44.3 (the release it fits). */
async function freshArgoOn1443(page: Page) {
  await uninstallIfInstalled(page, 'roadie-argocd');
  await setPlatform(page, '1.44.3');
  await page.goto('/plugins/roadie-argocd');
  await page.getByTestId('install-form').getByRole('button', { name: 'Install' }).click();
  await expect(page).toHaveURL(/\/settings\/plugins$/);
}

test('the directory is browsed by facet and search, and a plugin page shows its versions across releases', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/plugins');
  const count = page.getByTestId('plugin-count');
  await expect(count).toContainText(/of \d{3} plugins/);
  await page.getByTestId('facets').locator('[data-facet="support"]').getByRole('link', { name: /^Supported/ }).click();
  await expect(page).toHaveURL(/support=supported/);
  const cards = page.getByTestId('plugin-card');
  await expect(cards.first()).toBeVisible();
  const supports = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-support')));
  expect(new Set(supports)).toEqual(new Set(['supported']));
  await page.getByLabel('Search plugins').fill('tech radar');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(cards.first()).toHaveAttribute('data-plugin', 'tech-radar');
  await cards.first().getByRole('link', { name: 'Tech Radar' }).click();
  await expect(page.getByTestId('plugin-title')).toHaveText('Tech Radar');
  await expect(page.getByTestId('plugin-docs')).toContainText('Zalando');
  const frontend = page.locator('[data-package="@backstage-community/plugin-tech-radar"]');
  await expect(frontend.getByTestId('version-row').first()).toBeVisible();
  // Version, published, your platform, eight recent release lines (and yours), the action.
  expect(await frontend.getByTestId('versions').locator('thead th').count()).toBeGreaterThanOrEqual(12);
  await frontend.getByText('Configuration example').click();
  await expect(frontend.getByTestId('config-example')).toContainText('dynamicRoutes');
});

test('an install the release cannot run is explained; on a release that can, it installs, and rolls back', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await uninstallIfInstalled(page, 'roadie-argocd');
  await setPlatform(page, '1.42.0');

  await page.goto('/plugins/roadie-argocd');
  await expect(page.getByTestId('plugin-compat')).toHaveText('incompatible');
  await page.getByTestId('install-form').getByRole('button', { name: 'Install' }).click();
  const refusal = page.getByRole('alert');
  await expect(refusal).toContainText('@backstage/core-plugin-api');
  await expect(refusal).toContainText('Backstage 1.42.0');
  await expect(refusal).toContainText('1.44.0');

  await setPlatform(page, '1.44.3');
  await page.goto('/plugins/roadie-argocd');
  await expect(page.getByTestId('plugin-compat')).toHaveText('compatible');
  await page.getByTestId('install-form').getByLabel('Reason (optional)').fill('Argo CD for the payments team');
  await page.getByTestId('install-form').getByRole('button', { name: 'Install' }).click();
  await expect(page).toHaveURL(/\/settings\/plugins$/);
  const row = page.locator('[data-testid="installed-row"][data-package="@roadiehq/backstage-plugin-argo-cd"]');
  await expect(row.getByTestId('installed-version')).toHaveText('2.12.5');
  const newest = page.getByTestId('revision').first();
  await expect(newest).toContainText('Argo CD for the payments team');
  await expect(newest).toContainText('current');
  const installed = Number(await newest.getAttribute('data-revision'));

  await newest.getByRole('link', { name: 'Changes' }).click();
  await expect(page.getByTestId('comparison')).toContainText('+ @roadiehq/backstage-plugin-argo-cd 2.12.5');

  await page.getByRole('button', { name: `Roll back to revision ${installed - 1}` }).click();
  await expect(page.getByTestId('revision').first()).toContainText(`Roll back to revision ${installed - 1}`);
  await expect(row).toHaveCount(0);
});

/** Posts a runtime's report over loopback with the tenant's Host header (Node cannot resolve *.localhost). */
async function report(request: APIRequestContext, baseURL: string, key: string, plugins: unknown[]) {
  const url = new URL(baseURL);
  const response = await request.post(`http://127.0.0.1:${url.port}/api/plugins/health`, {
    headers: { Host: url.host, Authorization: `Bearer ${key}` },
    data: { instance: 'rhdh-e2e', plugins },
  });
  expect([202, 204]).toContain(response.status());
}

test('a runtime reporting a failure turns the plugin red on an admin\'s open settings page', async ({ page, browser, request, baseURL }) => {
  await signIn(page, admin.email, admin.password);
  await freshArgoOn1443(page);

  // The runtime's key: it may report, nothing else.
  await page.goto('/settings/api-access');
  await page.getByLabel('Key name').fill(`rhdh runtime ${Date.now()}`);
  await page.getByRole('checkbox', { name: /plugins:report/ }).first().check();
  await page.getByRole('button', { name: 'Create key', exact: true }).click();
  const key = (await page.getByTestId('secret').textContent())!.trim();

  const argo = '@roadiehq/backstage-plugin-argo-cd';
  await report(request, baseURL!, key, [{ package: argo, version: '2.12.5', state: 'loaded' }]);
  const { context, page: watcher } = await otherBrowser(browser);
  await signIn(watcher, admin.email, admin.password);
  await watcher.goto('/settings/plugins');
  const row = watcher.locator(`[data-testid="installed-row"][data-package="${argo}"]`);
  await expect(row.getByTestId('health')).toHaveText('running');
  await expect(watcher.getByTestId('runtime')).toContainText('rhdh-e2e');

  const live = test.info().project.use.javaScriptEnabled;
  // The second browser's socket opens once its WASM has hydrated the page.
  if (live) await expect(watcher.locator('body[data-live=open]')).toHaveCount(1, { timeout: 15_000 });
  await report(request, baseURL!, key, [
    { package: argo, version: '2.12.5', state: 'failed', error: "Plugin 'argocd' failed to initialize: missing config argocd.appLocatorMethods" },
  ]);
  // With JavaScript the open page hears it on its socket; without, the next load shows it.
  if (!live) await watcher.reload();
  await expect(row.getByTestId('health')).toHaveText('failed');
  await expect(row.getByTestId('health-detail')).toContainText('rhdh-e2e: Plugin \'argocd\' failed to initialize');
  await context.close();

  // The runtime stops reporting the plugin; the set goes back to how it was.
  await report(request, baseURL!, key, []);
  await uninstallIfInstalled(page, 'roadie-argocd');
});

test('a plugin\'s configuration with a secret in plain text is refused; with an environment reference it is a revision', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await freshArgoOn1443(page);

  const argo = '@roadiehq/backstage-plugin-argo-cd';
  const row = page.locator(`[data-testid="installed-row"][data-package="${argo}"]`);
  await row.getByText('Configure').click();
  const editor = row.getByLabel(`Configuration of ${argo}`);
  await editor.fill('argocd:\n  baseUrl: https://argo.example.com\n  token: s3cr3t\n');
  await row.getByRole('button', { name: 'Save configuration' }).click();
  await expect(page.getByRole('alert')).toContainText('`argocd.token` holds a secret in plain text');

  await page.goto('/settings/plugins');
  await row.getByText('Configure').click();
  await editor.fill('argocd:\n  baseUrl: https://argo.example.com\n  token: ${ARGOCD_TOKEN}\n');
  await row.getByLabel('Reason for the configuration').fill('Argo CD server for payments');
  await row.getByRole('button', { name: 'Save configuration' }).click();
  await expect(page.getByTestId('revision').first()).toContainText('Argo CD server for payments');
  await page.goto('/settings/plugins');
  await row.getByText('Configure').click();
  await expect(editor).toHaveValue(/token: \$\{ARGOCD_TOKEN\}/);

  await uninstallIfInstalled(page, 'roadie-argocd');
});

test('a component with an Argo CD annotation makes the directory recommend Argo CD, with why', async ({ page, request, baseURL }) => {
  await signIn(page, admin.email, admin.password);
  await uninstallIfInstalled(page, 'roadie-argocd');
  await page.goto('/settings/api-access');
  await page.getByLabel('Key name').fill(`catalog writer ${Date.now()}`);
  await page.getByRole('checkbox', { name: /catalog:write/ }).first().check();
  await page.getByRole('checkbox', { name: /catalog:read/ }).first().check();
  await page.getByRole('button', { name: 'Create key', exact: true }).click();
  const key = (await page.getByTestId('secret').textContent())!.trim();
  const url = new URL(baseURL!);
  const name = `argo-app-${test.info().project.name}-${Date.now()}`;
  const made = await request.post(`http://127.0.0.1:${url.port}/api/catalog/entities`, {
    headers: { Host: url.host, Authorization: `Bearer ${key}` },
    data: { apiVersion: 'backstage.io/v1alpha1', kind: 'Component',
      metadata: { name, annotations: { 'argocd/app-name': name } },
      spec: { type: 'service', lifecycle: 'production', owner: 'guests' } },
  });
  expect(made.ok()).toBeTruthy();
  const uid = (await made.json()).metadata.uid;

  await page.goto('/plugins');
  const recommended = page.getByTestId('recommendations').getByTestId('recommendation').first();
  await expect(recommended).toContainText(/1 of your \d+ components carries `argocd\/app-name`; .*Argo CD is not installed\./);
  // A search is a choice of its own: no recommendations over it.
  await page.goto('/plugins?q=radar');
  await expect(page.getByTestId('recommendations')).toHaveCount(0);

  const removed = await request.delete(`http://127.0.0.1:${url.port}/api/catalog/entities/by-uid/${uid}`, {
    headers: { Host: url.host, Authorization: `Bearer ${key}` },
  });
  expect(removed.status()).toBe(204);
});

test('a maintainer asks for a plugin, an admin approves it, and it is installed once', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await uninstallIfInstalled(page, 'roadie-argocd');
  await setPlatform(page, '1.44.3');
  const email = unique('maintainer');
  const password = await invite(page, email, 'Mia Maintainer', 'maintainer');
  const maintainer = await otherBrowser(browser);
  await signIn(maintainer.page, email, password);
  await maintainer.page.goto('/plugins/roadie-argocd');
  await expect(maintainer.page.getByTestId('install-form')).toHaveCount(0);
  const reason = `deploy status for payments ${Date.now()}`;
  const ask = maintainer.page.getByTestId('request-form');
  await ask.getByLabel('Why your team needs it (an admin decides)').fill(reason);
  await ask.getByRole('button', { name: 'Ask an admin to install' }).click();
  await expect(maintainer.page).toHaveURL(/\/settings\/plugins/);
  const asked = maintainer.page.getByTestId('request').filter({ hasText: reason });
  await expect(asked).toHaveAttribute('data-state', 'pending');
  await expect(maintainer.page.getByRole('button', { name: 'Approve: Install roadie-argocd' })).toHaveCount(0);

  await page.goto('/settings/plugins');
  const pending = page.getByTestId('request').filter({ hasText: reason });
  await expect(pending).toContainText('asked by Mia Maintainer');
  await pending.getByRole('button', { name: 'Approve: Install roadie-argocd' }).click();
  const decided = page.getByTestId('request').filter({ hasText: reason });
  await expect(decided).toHaveAttribute('data-state', 'approved');
  await expect(decided.getByTestId('request-state')).toContainText('revision');
  const row = page.locator('[data-testid="installed-row"][data-package="@roadiehq/backstage-plugin-argo-cd"]');
  await expect(row.getByTestId('installed-version')).toHaveText('2.12.5');
  await expect(page.getByTestId('revision').first()).toContainText(`${reason} (asked by Mia Maintainer)`);
  await maintainer.context.close();
  await uninstallIfInstalled(page, 'roadie-argocd');
});

test('an admin restricts the directory to supported plugins: others are hidden and cannot be installed', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/plugins');
  const form = page.getByTestId('policy-form');
  await form.getByLabel('Supported', { exact: true }).check();
  await form.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByTestId('policy')).toContainText('Members may install only supported plugins');
  try {
    await page.goto('/plugins');
    await expect(page.getByTestId('plugin-count')).toContainText("hidden by your organisation's policy (only supported plugins)");
    const supports = await page.getByTestId('plugin-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-support')));
    expect(new Set(supports)).toEqual(new Set(['supported']));
    await page.goto('/plugins/roadie-argocd');
    await expect(page.getByTestId('outside-policy')).toContainText('allows only supported plugins; Roadie Argo CD is community');
    await expect(page.getByTestId('install-form')).toHaveCount(0);
  } finally {
    await page.goto('/settings/plugins');
    await page.getByTestId('policy-form').getByLabel('Supported', { exact: true }).uncheck();
    await page.getByTestId('policy-form').getByRole('button', { name: 'Save policy' }).click();
    await expect(page.getByTestId('policy')).toContainText('Members may install every plugin in the directory');
  }
});
