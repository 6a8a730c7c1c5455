import { createHmac } from 'node:crypto';
import { expect, test, Browser, Page } from '@playwright/test';

export const admin = {
  email: process.env.E2E_ADMIN_EMAIL!,
  password: process.env.E2E_ADMIN_PASSWORD!,
};

export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

export function unique(prefix: string) {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Invites a member (a developer unless `role` says otherwise) from Settings → Users as the signed-in admin; returns their one-time password. */
export async function invite(page: Page, email: string, name: string, role = 'developer'): Promise<string> {
  await page.goto('/settings/users');
  const form = page.locator('form', { has: page.getByRole('button', { name: 'Invite' }) });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Role').selectOption(role);
  await form.getByRole('button', { name: 'Invite' }).click();
  const password = page.getByTestId('one-time-password');
  await expect(password).toBeVisible();
  return (await password.textContent())!.trim();
}

/** A new browser (own cookies) with the same JavaScript setting as the running project. */
export async function otherBrowser(browser: Browser) {
  const context = await browser.newContext({ javaScriptEnabled: test.info().project.use.javaScriptEnabled });
  return { context, page: await context.newPage() };
}

/** The 6-digit RFC 6238 code an authenticator app shows for a base32 secret, `offset` steps from now. */
export function totp(base32Secret: string, offset = 0): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret.replace(/\s/g, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  return ((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).toString().padStart(6, '0');
}
