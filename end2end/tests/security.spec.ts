import { test, expect } from '@playwright/test';
import { admin, invite, otherBrowser, signIn, totp, unique } from './helpers';

test.beforeEach(async ({ page }) => {
  await signIn(page, admin.email, admin.password);
});

test('a member turns on two-factor authentication and signs in with a code from their app', async ({ page, browser }) => {
  const email = unique('mfa');
  const password = await invite(page, email, 'Tessa Totp');
  const { context, page: member } = await otherBrowser(browser);
  await signIn(member, email, password);

  await member.goto('/account/mfa');
  await expect(member.getByRole('img', { name: 'QR code for your authenticator app' }).locator('svg')).toBeVisible();
  const secret = (await member.getByTestId('mfa-secret').textContent())!;
  await member.getByLabel('Code', { exact: true }).fill('000000');
  await member.getByRole('button', { name: 'Turn on' }).click();
  await expect(member.getByRole('alert')).toContainText('does not match');
  await member.getByLabel('Code', { exact: true }).fill(totp(secret));
  await member.getByRole('button', { name: 'Turn on' }).click();
  await expect(member.getByTestId('recovery-code')).toHaveCount(10);
  await expect(member.getByTestId('mfa-enabled')).toContainText('10 recovery codes left');
  await member.reload();
  await expect(member.getByTestId('recovery-codes')).toHaveCount(0);

  // Signing in now takes the password and then a code.
  await member.goto('/logout');
  await member.getByRole('button', { name: 'Sign out' }).click();
  await expect(member).toHaveURL(/\/login$/);
  await member.getByLabel('Email').fill(email);
  await member.getByLabel('Password').fill(password);
  await member.getByRole('button', { name: 'Sign in' }).click();
  await expect(member).toHaveURL(/\/login\/mfa$/);
  // Half signed in is not signed in.
  await member.goto('/catalog');
  await expect(member).toHaveURL(/\/login$/);
  await member.goto('/login/mfa');
  await member.getByLabel('Authentication code').fill(totp(secret, 1));
  await member.getByRole('button', { name: 'Verify' }).click();
  await expect(member).toHaveURL(/\/$/);
  await member.goto('/catalog');
  await expect(member).toHaveURL(/\/catalog$/);
  await context.close();
});

test('the sessions page ends the session of another browser', async ({ page, browser }) => {
  const { context, page: laptop } = await otherBrowser(browser);
  await signIn(laptop, admin.email, admin.password);
  await laptop.goto('/account/sessions');
  const laptopHandle = await laptop.locator('[data-testid=session-row][data-current=true] input[name=handle]').inputValue();

  await page.goto('/account/sessions');
  const row = page.locator('[data-testid=session-row]', { has: page.locator(`input[value="${laptopHandle}"]`) });
  await expect(row).toContainText('Chrome on Linux');
  await row.getByRole('button', { name: /^End session on/ }).click();
  await expect(page.locator(`input[value="${laptopHandle}"]`)).toHaveCount(0);
  await expect(page.locator('[data-testid=session-row][data-current=true]')).toHaveCount(1);

  await laptop.goto('/catalog');
  await expect(laptop).toHaveURL(/\/login$/);
  await page.goto('/catalog');
  await expect(page).toHaveURL(/\/catalog$/);
  await context.close();
});

test('admins keep an IP allowlist and cannot lock themselves out by accident', async ({ page }) => {
  await page.goto('/settings/security');
  const address = (await page.getByTestId('your-address').textContent())!.trim();
  expect(address).toMatch(/^(127\.|::1|::ffff:127\.)/);

  // An API-only entry leaves the portal open.
  await page.getByLabel('Network (CIDR)').fill('192.0.2.7/24');
  await page.getByLabel('Applies to').selectOption('api');
  await page.getByLabel('Note').fill('CI runners');
  await page.getByRole('button', { name: 'Add network' }).click();
  const row = page.locator('[data-testid=allowlist-row][data-cidr="192.0.2.0/24"]');
  await expect(row).toContainText('API only');
  await expect(row).toContainText('CI runners');

  // A portal entry that leaves out this browser needs the explicit confirmation.
  await page.getByLabel('Network (CIDR)').fill('198.51.100.0/24');
  await page.getByLabel('Applies to').selectOption('portal');
  await page.getByRole('button', { name: 'Add network' }).click();
  await expect(page.getByRole('alert')).toContainText('would no longer reach the portal');
  await expect(page.locator('[data-testid=allowlist-row][data-cidr="198.51.100.0/24"]')).toHaveCount(0);

  await row.getByRole('button', { name: 'Remove 192.0.2.0/24' }).click();
  await expect(page.locator('[data-testid=allowlist-row]')).toHaveCount(0);
  await page.goto('/catalog');
  await expect(page).toHaveURL(/\/catalog$/);
});
