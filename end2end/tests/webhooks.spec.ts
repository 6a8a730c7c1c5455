import { createHmac } from 'node:crypto';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

test('an admin adds a webhook, sees a failed delivery in its log and redelivers it', async ({ page }) => {
  // A receiver on loopback that fails until told otherwise.
  const received: { headers: IncomingHttpHeaders; body: string; status: number }[] = [];
  let healthy = false;
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const status = healthy ? 200 : 503;
      received.push({ headers: request.headers, body, status });
      response.statusCode = status;
      response.end(healthy ? 'thanks' : 'down for maintenance');
    });
  });
  await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const name = `Chat ops ${Date.now()}`;
  const ofThisWebhook = (r: { body: string }) => r.body.includes('"action":"webhook.added"') && r.body.includes(name);

  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/users');
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Webhooks' }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Add webhook' }) });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('URL').fill(url);
  await expect(form.getByRole('checkbox', { name: /audit:recorded/ })).toBeChecked();
  await form.getByRole('checkbox', { name: /deployment:status/ }).uncheck();
  await form.getByRole('button', { name: 'Add webhook' }).click();
  const secret = (await page.getByTestId('webhook-secret-value').textContent())!.trim();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

  // Its own creation is sent at once, signed the Standard Webhooks way, and refused.
  await expect.poll(() => received.some(ofThisWebhook), { timeout: 20_000 }).toBe(true);
  const first = received.find(ofThisWebhook)!;
  const [id, timestamp] = [String(first.headers['webhook-id']), String(first.headers['webhook-timestamp'])];
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${first.body}`).digest('base64');
  expect(String(first.headers['webhook-signature'])).toBe(`v1,${expected}`);

  const webhook = page.locator(`[data-testid=webhook][data-name="${name}"]`);
  const delivery = webhook.locator('[data-testid=delivery]').filter({ hasText: '"action":"webhook.added"' });
  await expect(async () => {
    await page.reload();
    await expect(delivery).toHaveAttribute('data-state', 'retrying', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await delivery.locator('summary').click();
  await expect(delivery.locator('[data-testid=attempt][data-ok=false]')).toContainText('HTTP 503');
  await expect(delivery.locator('[data-testid=attempt]').first()).toContainText('down for maintenance');
  await expect(delivery.locator('[data-testid=attempt]').first()).toContainText(`webhook-id: ${id}`);

  // The receiver is back: redeliver, and the same message arrives and is confirmed.
  healthy = true;
  await delivery.getByRole('button', { name: 'Redeliver' }).click();
  await expect.poll(() => received.some((r) => r.status === 200 && r.headers['webhook-id'] === id), { timeout: 20_000 }).toBe(true);
  await expect(async () => {
    await page.reload();
    await expect(delivery).toHaveAttribute('data-state', 'delivered', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });

  await webhook.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.locator(`[data-testid=webhook][data-name="${name}"]`)).toHaveCount(0);
  receiver.close();
});
