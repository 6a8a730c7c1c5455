import { expect, test, Browser, Page } from '@playwright/test';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin, signIn } from './helpers';

// A real npm registry on loopback (Verdaccio 6.8.0, offline: no uplinks) with the tech-radar
// family published into it by this test, and a second Beacon server whose directory is
// refreshed from it (BEACON_NPM_REGISTRY). Installing then fetches each tarball from the
// registry, checks it against its published integrity and the archive rules, and serves it to
// the tenant's runtime; a tarball the registry changed after publishing is refused.

const RADAR = '@backstage-community/plugin-tech-radar';
const BACKEND = '@backstage-community/plugin-tech-radar-backend';
const COMMON = '@backstage-community/plugin-tech-radar-common';
const PLUGIN_PACKAGES = [RADAR, BACKEND, COMMON];
const REACT = { react: '^16.13.1 || ^17.0.0 || ^18.0.0', 'react-router-dom': '6.0.0-beta.0  || ^6.3.0' };

/** The packages as their authors published them (real metadata; a stand-in `dist`). */
const FIXTURES = [
  {
    name: COMMON, version: '1.13.0', dependencies: { zod: '^3.22.4' },
    backstage: { role: 'common-library', pluginId: 'tech-radar', pluginPackages: PLUGIN_PACKAGES },
  },
  {
    name: RADAR, version: '1.13.0', peerDependencies: REACT,
    dependencies: { [COMMON]: '^1.12.0', '@backstage/core-plugin-api': '^1.12.0', '@backstage/frontend-plugin-api': '^0.13.0' },
    backstage: { role: 'frontend-plugin', pluginId: 'tech-radar', pluginPackages: PLUGIN_PACKAGES },
  },
  {
    name: RADAR, version: '1.14.0', peerDependencies: REACT,
    dependencies: { [COMMON]: '^1.13.0', '@backstage/core-plugin-api': '^1.12.1', '@backstage/frontend-plugin-api': '^0.13.2' },
    backstage: { role: 'frontend-plugin', pluginId: 'tech-radar', pluginPackages: PLUGIN_PACKAGES },
  },
  {
    name: '@acme/backstage-plugin-costs', version: '1.2.0',
    dependencies: { '@backstage/core-plugin-api': '^1.12.0', '@backstage/frontend-plugin-api': '^0.13.0' },
    backstage: { role: 'frontend-plugin', pluginId: 'acme-costs' },
  },
  {
    name: BACKEND, version: '1.12.0', configSchema: 'config.schema.json',
    dependencies: { [COMMON]: '^1.7.0', '@backstage/backend-plugin-api': '^1.4.0' },
    backstage: { role: 'backend-plugin', pluginId: 'tech-radar', pluginPackages: PLUGIN_PACKAGES },
    files: {
      'config.schema.json': JSON.stringify({
        $schema: 'http://json-schema.org/draft-07/schema#', type: 'object',
        properties: { techRadar: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] } },
      }),
    },
  },
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when `url` answers, or rejects with the process's output when it exits first. */
async function answered(url: string, child: ChildProcess, output: () => string) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${url} exited: ${output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer: ${output()}`);
}

let dir: string;
let registry: { url: string; child: ChildProcess; storage: string };
let beacon: { origin: string; port: number; child: ChildProcess };

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dir = mkdtempSync(join(tmpdir(), 'beacon-registry-'));
  const port = await freePort();
  const storage = join(dir, 'storage');
  writeFileSync(join(dir, 'config.yaml'), [
    `storage: ${storage}`, 'uplinks: {}',
    'packages:', "  '@*/*': { access: $all, publish: $all }", "  '**': { access: $all, publish: $all }",
    'web: { enable: false }', 'max_body_size: 20mb', 'middlewares: { audit: { enabled: false } }',
    'log: { type: stdout, format: pretty, level: warn }',
  ].join('\n'));
  const url = `http://127.0.0.1:${port}`;
  let registryLog = '';
  const child = spawn(process.execPath, ['node_modules/verdaccio/bin/verdaccio', '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, VERDACCIO_HANDLE_KILL_SIGNALS: 'true', VERDACCIO_PUBLIC_URL: url },
  });
  child.stdout!.on('data', (d) => (registryLog += d));
  child.stderr!.on('data', (d) => (registryLog += d));
  registry = { url, child, storage };
  await answered(`${url}/-/ping`, child, () => registryLog);

  // Verdaccio takes any token for `$all`; npm will not publish without one.
  writeFileSync(join(dir, 'npmrc'), `//127.0.0.1:${port}/:_authToken=e2e\n`);
  for (const fixture of FIXTURES) {
    const pkg = join(dir, `${fixture.name.split('/')[1]}-${fixture.version}`);
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    const { files, ...manifest } = fixture as typeof fixture & { files?: Record<string, string> };
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ ...manifest, main: 'dist/index.js', license: 'Apache-2.0' }, null, 2));
    writeFileSync(join(pkg, 'dist', 'index.js'), `export const plugin = ${JSON.stringify(`${fixture.name}@${fixture.version}`)};\n`);
    for (const [file, text] of Object.entries(files ?? {})) writeFileSync(join(pkg, file), text);
    execFileSync('npm', ['publish', '--registry', `${url}/`, '--userconfig', join(dir, 'npmrc'), '--no-audit', '--no-fund', '--loglevel=error'], { cwd: pkg });
  }

  // A second Beacon on the same database, reading the plugin directory from this registry.
  const beaconPort = await freePort();
  let beaconLog = '';
  const server = spawn(process.env.E2E_SERVER!, ['serve'], {
    env: {
      ...process.env, LEPTOS_SITE_ADDR: `127.0.0.1:${beaconPort}`, BEACON_NPM_REGISTRY: url,
      BEACON_COOKIE_SECURE: 'false', BEACON_FETCH_PRIVATE_NETWORKS: 'true', BEACON_RATE_LIMIT_ANONYMOUS: '100000',
    },
  });
  server.stdout!.on('data', (d) => (beaconLog += d));
  server.stderr!.on('data', (d) => (beaconLog += d));
  beacon = { origin: `http://${process.env.E2E_TENANT}.localhost:${beaconPort}`, port: beaconPort, child: server };
  await answered(`http://127.0.0.1:${beaconPort}/api/health`, server, () => beaconLog);
  // It refreshes the directory from the registry as it starts.
  for (let i = 0; i < 300 && !beaconLog.includes('plugin directory refreshed'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(beaconLog).toContain('plugin directory refreshed');
});

test.afterAll(async () => {
  for (const child of [beacon?.child, registry?.child]) {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function onBeacon(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ baseURL: beacon.origin, javaScriptEnabled: test.info().project.use.javaScriptEnabled });
  return context.newPage();
}

async function setPlatform(page: Page, release: string) {
  await page.goto('/settings/plugins');
  const platform = page.getByTestId('platform-form');
  await platform.getByLabel('Runtime').selectOption('rhdh');
  await platform.getByLabel('Backstage release').selectOption(release);
  await platform.getByRole('button', { name: 'Save platform' }).click();
  await expect(page.getByTestId('platform')).toContainText(`Backstage ${release}`);
}

async function installVersion(page: Page, packageName: string, version: string) {
  await page.goto('/plugins/tech-radar');
  await page.locator(`[data-package="${packageName}"] [data-version="${version}"]`).getByRole('button', { name: `Install ${version}` }).click();
  await expect(page).toHaveURL(/\/settings\/plugins$/);
}

test('plugins install from a real npm registry: a conflict explained and a compatible version chosen, verified, configured by their schema, served to npm, and a changed tarball refused', async ({ browser }) => {
  test.setTimeout(90_000);
  const page = await onBeacon(browser);
  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/plugins');
  const uninstall = page.getByRole('button', { name: 'Uninstall tech-radar' });
  if (await uninstall.count()) await uninstall.click();
  await expect(uninstall).toHaveCount(0);
  await setPlatform(page, '1.45.3');

  // 1.14.0 needs a newer core-plugin-api than 1.45.3 ships: refused and explained; the version
  // the table marks compatible installs. Each tarball matched its published integrity.
  await page.goto('/plugins/tech-radar');
  const frontend = page.locator(`[data-package="${RADAR}"]`);
  await frontend.locator('[data-version="1.14.0"]').getByRole('button', { name: 'Install 1.14.0' }).click();
  await expect(page.getByRole('alert')).toContainText('@backstage/core-plugin-api');
  await expect(page.getByRole('alert')).toContainText('Backstage 1.45.3');
  await page.goto('/plugins/tech-radar');
  await expect(frontend.locator('[data-version="1.13.0"]').getByText('compatible', { exact: true })).toBeVisible();
  await installVersion(page, RADAR, '1.13.0');
  await installVersion(page, BACKEND, '1.12.0');
  for (const name of [RADAR, COMMON, BACKEND]) {
    await expect(page.locator(`[data-testid="installed-row"][data-package="${name}"]`).getByTestId('verified')).toHaveText('verified');
  }

  // The backend's schema came from its tarball (`configSchema: config.schema.json`).
  const backend = page.locator(`[data-testid="installed-row"][data-package="${BACKEND}"]`);
  await backend.getByText('Configure').click();
  await backend.getByLabel(`Configuration of ${BACKEND}`).fill('techRadar:\n  title: Our radar\n');
  await backend.getByRole('button', { name: 'Save configuration' }).click();
  await expect(page.getByRole('alert')).toContainText(`${BACKEND}: \`/techRadar\`: "url" is a required property`);
  await page.goto('/settings/plugins');
  await backend.getByText('Configure').click();
  await backend.getByLabel(`Configuration of ${BACKEND}`).fill('techRadar:\n  url: https://radar.example.com/data.json\n');
  await backend.getByRole('button', { name: 'Save configuration' }).click();
  await expect(page.getByTestId('revision').first()).toContainText(`Configure ${BACKEND}`);

  // The runtime's npm installs from Beacon and gets the verified bytes (npm checks the integrity).
  await page.goto('/settings/api-access');
  await page.getByLabel('Key name').fill(`rhdh npm ${Date.now()}`);
  await page.getByRole('checkbox', { name: /plugins:read/ }).first().check();
  await page.getByRole('button', { name: 'Create key', exact: true }).click();
  const key = (await page.getByTestId('secret').textContent())!.trim();
  const work = join(dir, `npm-${test.info().project.name}`);
  mkdirSync(work, { recursive: true });
  const host = new URL(beacon.origin).host;
  // Node cannot resolve `*.localhost`: npm reaches Beacon as its proxy, which sends the tenant's host.
  writeFileSync(join(work, '.npmrc'), [
    `registry=http://${host}/api/plugins/npm/`, `proxy=http://127.0.0.1:${beacon.port}/`,
    `//${host}/api/plugins/npm/:_authToken=${key}`, '',
  ].join('\n'));
  execFileSync('npm', ['pack', `${RADAR}@1.13.0`, '--userconfig', '.npmrc', '--cache', 'npm-cache', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work });
  const packed = readFileSync(join(work, 'backstage-community-plugin-tech-radar-1.13.0.tgz'));
  const published = readFileSync(join(registry.storage, RADAR, 'plugin-tech-radar-1.13.0.tgz'));
  expect(createHash('sha512').update(packed).digest('base64')).toBe(createHash('sha512').update(published).digest('base64'));

  // On 1.46.0 1.14.0 fits, but the registry now serves other bytes than it published: refused.
  await setPlatform(page, '1.46.0');
  writeFileSync(join(registry.storage, RADAR, 'plugin-tech-radar-1.14.0.tgz'), Buffer.from('not the published tarball'));
  await page.goto('/plugins/tech-radar');
  await page.locator(`[data-package="${RADAR}"] [data-version="1.14.0"]`).getByRole('button', { name: 'Install 1.14.0' }).click();
  await expect(page.getByRole('alert')).toContainText(`${RADAR} 1.14.0 was refused`);
  await page.goto('/settings/plugins');
  await expect(page.locator(`[data-testid="installed-row"][data-package="${RADAR}"]`).getByTestId('installed-version')).toHaveText('1.13.0');

  await page.getByRole('button', { name: 'Uninstall tech-radar' }).click();
  await expect(page.getByRole('button', { name: 'Uninstall tech-radar' })).toHaveCount(0);
  await page.context().close();
});

test("an organisation's own plugin, published to its registry, is added, installed and verified", async ({ browser }) => {
  const page = await onBeacon(browser);
  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/plugins');
  const uninstall = page.getByRole('button', { name: /^Uninstall t\d+\.costs$/ });
  if (await uninstall.count()) await uninstall.click();
  await expect(uninstall).toHaveCount(0);
  const remove = page.getByRole('button', { name: 'Remove Acme Costs' });
  if (await remove.count()) await remove.click();
  await expect(remove).toHaveCount(0);

  const form = page.getByTestId('private-form');
  await form.getByLabel('Private plugin name').fill('costs');
  await form.getByLabel('Private plugin title').fill('Acme Costs');
  await form.getByLabel('Private plugin packages').fill('@acme/backstage-plugin-costs');
  await form.getByLabel('Private plugin summary').fill('What each team spends');
  await form.getByRole('button', { name: 'Add private plugin' }).click();
  const entry = page.getByTestId('private-plugin').filter({ hasText: 'Acme Costs' });
  await expect(entry).toContainText('@acme/backstage-plugin-costs · 1 version');

  await entry.getByRole('link', { name: 'Acme Costs' }).click();
  await expect(page.getByTestId('plugin-title')).toHaveText('Acme Costs');
  await expect(page.getByText('Private', { exact: true }).first()).toBeVisible();
  await page.getByTestId('install-form').getByRole('button', { name: 'Install' }).click();
  await expect(page).toHaveURL(/\/settings\/plugins$/);
  const row = page.locator('[data-testid="installed-row"][data-package="@acme/backstage-plugin-costs"]');
  await expect(row.getByTestId('verified')).toHaveText('verified');

  await page.getByRole('button', { name: /^Uninstall t\d+\.costs$/ }).click();
  await expect(row).toHaveCount(0);
  await page.getByRole('button', { name: 'Remove Acme Costs' }).click();
  await expect(page.getByTestId('private-plugin')).toHaveCount(0);
  await page.context().close();
});
