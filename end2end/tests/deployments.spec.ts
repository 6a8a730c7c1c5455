import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

test('GitHub reports a deployment and the entity page shows it, live with JS', async ({ page }) => {
  const name = `shop-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const slug = `e2e-org/${name}`;
  await signIn(page, admin.email, admin.password);

  // An entity GitHub's events will name.
  await page.goto('/catalog/new');
  await page.getByLabel('Entity YAML').fill(
    `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\n  annotations:\n    github.com/project-slug: ${slug}\n` +
      `spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n`,
  );
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/component/${name}$`));
  await expect(page.getByTestId('no-deployments')).toContainText('github.com/project-slug');

  // Settings → CI/CD: a GitHub secret, shown once.
  await page.goto('/settings/cicd');
  const github = page.locator('[data-testid=integration][data-provider=github]');
  await github.getByRole('button', { name: /secret for GitHub/ }).click();
  const secret = (await page.getByTestId('cicd-secret-value').textContent())!.trim();
  expect(secret).toMatch(/^bci_[0-9a-f]{64}$/);
  const endpoint = (await github.locator('.font-mono').first().textContent())!.trim();
  expect(endpoint).toMatch(/\/api\/webhooks\/github$/);

  await page.goto(`/catalog/default/component/${name}`);
  await expect(page.getByTestId('no-deployments')).toBeVisible();
  const now = new Date();
  const body = JSON.stringify({
    action: 'created',
    deployment_status: { id: 1, state: 'failure', environment: 'production', created_at: now.toISOString(), target_url: 'https://github.com/e2e' },
    deployment: { id: Date.now(), task: 'deploy', environment: 'production', sha: 'abc123', ref: 'main', created_at: new Date(now.getTime() - 60_000).toISOString() },
    repository: { full_name: slug },
  });
  const signature = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
  const headers = { 'content-type': 'application/json', 'x-github-event': 'deployment_status', 'x-github-delivery': `${Date.now()}`, 'x-hub-signature-256': signature };
  expect(await postAsGitHub(body, headers)).toBe(202);

  if (!test.info().project.use.javaScriptEnabled) await page.reload();
  const row = page.locator('[data-testid=deployment][data-status=failure]');
  await expect(row).toBeVisible({ timeout: 15_000 });
  await expect(row).toContainText('production');
  await expect(page.locator('[data-testid=dora-figure][data-label="Change failure rate"]')).toContainText('100 %');

  // The catalog list's "failed in the last 24 h" shows it.
  await page.goto('/catalog');
  await page.getByTestId('facet-deploys').getByRole('link', { name: 'Failed in the last 24 h' }).click();
  await expect(page).toHaveURL(/deploys=failed/);
  await expect(page.getByRole('link', { name, exact: true })).toBeVisible();

  // Leave the shared tenant's catalog as the other journeys count it.
  await page.goto(`/catalog/default/component/${name}`);
  await page.getByLabel(`Yes, delete component:default/${name}`).check();
  await page.getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/catalog$/);
});

/** Posts to the tenant's GitHub endpoint the way GitHub would: from outside the browser, with the tenant's host. */
function postAsGitHub(body: string, headers: Record<string, string>): Promise<number> {
  const host = `${process.env.E2E_TENANT}.localhost:${process.env.E2E_PORT}`;
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: Number(process.env.E2E_PORT), path: '/api/webhooks/github', method: 'POST', headers: { ...headers, host } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
