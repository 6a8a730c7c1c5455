import { readFile } from 'node:fs/promises';
import { test, expect } from '@playwright/test';
import { admin, invite, otherBrowser, signIn, unique } from './helpers';

test('a member downloads everything about them, then an admin erases them', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  const email = unique('petra');
  const password = await invite(page, email, 'Petra Private');

  const { context, page: member } = await otherBrowser(browser);
  await signIn(member, email, password);
  await member.goto('/account/data');
  const [download] = await Promise.all([
    member.waitForEvent('download'),
    member.getByTestId('download-my-data').click(),
  ]);
  const exported = JSON.parse(await readFile((await download.path())!, 'utf8'));
  expect(exported.format).toBe('beacon-account-export-v1');
  expect(exported.profile.email).toBe(email);
  expect(exported.profile.display_name).toBe('Petra Private');
  expect(exported.audit_events.map((e: { action: string }) => e.action)).toContain('user.invited');

  // The erasure asks for the email again, and works as a plain form.
  await page.goto('/settings/users');
  const row = page.locator(`[data-testid=user-row][data-email="${email}"]`);
  await row.getByLabel(`Erase ${email}…`).click();
  await row.getByLabel(`Confirm erasing ${email}`).fill(email);
  await row.getByRole('button', { name: `Erase ${email} permanently` }).click();
  await expect(page.getByTestId('erasure')).toContainText('the audit log now calls them erased-');
  await expect(page.getByTestId('erasure')).toContainText('their account is deleted');
  await expect(page.locator(`[data-testid=user-row][data-email="${email}"]`)).toHaveCount(0);

  // Her session ended with her membership.
  await member.goto('/account/data');
  await expect(member).toHaveURL(/\/login/);
  await context.close();

  // The audit log has the erasure, under the pseudonym, and no trace of her email.
  await page.goto(`/audit?q=${encodeURIComponent(email)}`);
  await expect(page.getByTestId('audit-row')).toHaveCount(0);
  await page.goto('/audit?action=user.erased');
  await expect(page.getByTestId('audit-row').first()).toContainText('erased-');
});
