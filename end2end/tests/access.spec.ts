import http from 'node:http';
import { AddressInfo } from 'node:net';
import { test, expect, APIRequestContext } from '@playwright/test';
import { admin, invite, signIn, unique } from './helpers';

test.beforeEach(async ({ page }) => {
  await signIn(page, admin.email, admin.password);
});

/** Calls the API over loopback with the tenant's Host header (Node cannot resolve *.localhost). */
function api(baseURL: string, request: APIRequestContext) {
  const url = new URL(baseURL);
  const at = (path: string) => `http://127.0.0.1:${url.port}${path}`;
  const host = { Host: url.host };
  return {
    get: (path: string, headers: Record<string, string>) => request.get(at(path), { headers: { ...host, ...headers } }),
    post: (path: string, headers: Record<string, string>, data: unknown) =>
      request.post(at(path), { headers: { ...host, ...headers }, data }),
  };
}

test('an API key is shown once, reads the catalog within its scope, and stops working when revoked', async ({ page, request, baseURL }) => {
  const calls = api(baseURL!, request);
  await page.goto('/settings/api-access');
  const name = `pipeline ${Date.now()}`;
  await page.getByLabel('Key name').fill(name);
  await page.getByRole('checkbox', { name: /catalog:read/ }).first().check();
  await page.getByRole('button', { name: 'Create key', exact: true }).click();
  const secret = (await page.getByTestId('secret').textContent())!.trim();
  expect(secret).toMatch(/^bcn_[A-Za-z0-9]{12}_[A-Za-z0-9]{43}$/);
  const row = page.locator(`[data-testid=api-key-row][data-name="${name}"]`);
  await expect(row).toContainText('catalog:read');

  const read = await calls.get('/api/catalog/entities?limit=1', { 'X-API-Key': secret });
  expect(read.status()).toBe(200);
  const write = await calls.post('/api/catalog/entities', { Authorization: `Bearer ${secret}` },
    { apiVersion: 'backstage.io/v1alpha1', kind: 'Resource', metadata: { name: 'nope' }, spec: { type: 'x', owner: 'y' } });
  expect(write.status()).toBe(403);

  // Both calls reach the key's usage chart once the access log has written them (about a second).
  await expect(async () => {
    await page.reload();
    await expect(row.getByTestId('usage-total')).toHaveText('2 (1 failed)', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await expect(row.getByRole('img', { name: `Requests by ${name}, last 14 days` })).toBeVisible();

  // Reloading never shows the secret again.
  await page.reload();
  await expect(page.getByTestId('secret')).toHaveCount(0);
  await expect(row).toContainText('active');
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(row.getByTestId('api-key-status')).toHaveText('revoked');
  const after = await calls.get('/api/catalog/entities?limit=1', { 'X-API-Key': secret });
  expect(after.status()).toBe(401);
});

test('a form on another origin cannot make a signed-in admin act (CSRF)', async ({ page, baseURL }) => {
  const target = new URL(baseURL!);
  const email = unique('csrf');
  // A page on another port of the same host: same-site, so the session cookie is sent; only
  // the origin check stands between it and the invitation.
  const attacker = http.createServer((_, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<form id="f" method="post" action="${target.origin}/api/settings/users/invite">
      <input name="email" value="${email}"><input name="display_name" value="Eve">
      <input name="role" value="admin"><button type="submit">Go</button></form>`);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  const port = (attacker.address() as AddressInfo).port;
  try {
    await page.goto(`http://${target.hostname}:${port}/`);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/settings/users/invite')),
      page.getByRole('button', { name: 'Go' }).click(),
    ]);
    expect(response.status()).toBe(403);
  } finally {
    attacker.close();
  }
  await page.goto('/settings/users');
  await expect(page.getByTestId('users-table')).not.toContainText(email);
});

test('after an admin reset, the member must choose a new password before anything else', async ({ page, browser }) => {
  const email = unique('reset');
  await invite(page, email, 'Reese Reset');
  await page.getByRole('button', { name: `Reset password of ${email}` }).click();
  const oneTime = (await page.getByTestId('reset-password').textContent())!.trim();

  const context = await browser.newContext();
  const member = await context.newPage();
  await member.goto('/login');
  await member.getByLabel('Email').fill(email);
  await member.getByLabel('Password').fill(oneTime);
  await member.getByRole('button', { name: 'Sign in' }).click();
  // Without JS the sign-in lands on the change-password page at once; with JS on the home page.
  await expect(member).toHaveURL(/\/(account\/password)?$/);
  await member.goto('/catalog');
  await expect(member).toHaveURL(/\/account\/password$/);
  await member.getByLabel('Current password', { exact: true }).fill(oneTime);
  await member.getByLabel('New password', { exact: true }).fill('password1234');
  await member.getByLabel('Repeat the new password').fill('password1234');
  await member.getByRole('button', { name: 'Change password' }).click();
  await expect(member.getByText('too common')).toBeVisible();
  await member.getByLabel('Current password', { exact: true }).fill(oneTime);
  await member.getByLabel('New password', { exact: true }).fill('reese picks a long passphrase');
  await member.getByLabel('Repeat the new password').fill('reese picks a long passphrase');
  await member.getByRole('button', { name: 'Change password' }).click();
  await expect(member).toHaveURL(/\/$/);
  await member.goto('/catalog');
  await expect(member).toHaveURL(/\/catalog$/);
  await context.close();
});
