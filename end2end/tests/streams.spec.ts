import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import { admin, signIn } from './helpers';

test('an admin streams the audit log to a webhook, which receives signed events', async ({ page }) => {
  const received: { signature: string; body: string }[] = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ signature: String(request.headers['beacon-signature']), body });
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const name = `SIEM ${Date.now()}`;

  await signIn(page, admin.email, admin.password);
  await page.goto('/audit');
  await page.getByRole('link', { name: 'Streaming' }).click();
  await expect(page).toHaveURL(/\/audit\/streams$/);
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Add destination' }) });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Webhook URL').fill(url);
  await form.getByRole('button', { name: 'Add destination' }).click();
  const secret = (await page.getByTestId('stream-secret-value').textContent())!.trim();
  expect(secret).toMatch(/^bss_[0-9a-f]{64}$/);

  // Its own creation is the first event it receives, signed with the secret.
  await expect.poll(() => received.length, { timeout: 20_000 }).toBeGreaterThan(0);
  const { signature, body } = received[0];
  const [, t, v1] = signature.match(/^t=(\d+),v1=([0-9a-f]{64})$/)!;
  expect(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')).toBe(v1);
  const events = JSON.parse(body).events;
  expect(events.some((e: { action: string; target: string }) => e.action === 'audit.stream_added' && e.target === name)).toBe(true);

  await page.reload();
  const destination = page.locator(`[data-testid=destination][data-name="${name}"]`);
  await expect(destination.locator('[data-testid=delivery][data-ok=true]').first()).toBeVisible();
  await destination.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.locator(`[data-testid=destination][data-name="${name}"]`)).toHaveCount(0);
  receiver.close();
});
