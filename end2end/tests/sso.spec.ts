import { test, expect } from '@playwright/test';
import { admin, otherBrowser, signIn } from './helpers';

const issuer = process.env.E2E_OIDC_ISSUER!;

test('an admin adds an OpenID Connect provider and a new member signs in through it', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/sso');
  const name = `Test IdP ${test.info().project.name}`;
  await expect(page.getByTestId('redirect-uri')).toHaveText(/\/sso\/callback$/);
  const fill = async (issuerUrl: string) => {
    await page.getByLabel('Button name', { exact: true }).fill(name);
    await page.getByLabel('Issuer URL').fill(issuerUrl);
    await page.getByLabel('Client ID').fill('beacon-e2e');
    await page.getByLabel('Client secret').fill('e2e-client-secret');
    await page.getByLabel('Role of new members', { exact: true }).selectOption('developer');
    await page.getByRole('button', { name: 'Add provider' }).click();
  };
  await fill(`${issuer}/nowhere`);
  await expect(page.getByRole('alert')).toContainText('Cannot use this issuer');
  await fill(issuer);
  await expect(page.locator(`[data-testid=sso-provider][data-name="${name}"]`)).toContainText(issuer);

  // Someone new signs in at the provider's own login and consent pages.
  const login = `sam-${test.info().project.name}-${Date.now()}`;
  const { context, page: visitor } = await otherBrowser(browser);
  await visitor.goto('/login');
  await visitor.getByRole('link', { name: `Sign in with ${name}` }).click();
  await expect(visitor).toHaveURL(new RegExp(`^${issuer}/`));
  await visitor.locator('input[name=login]').fill(login);
  await visitor.locator('input[name=password]').fill('any password');
  await visitor.getByRole('button', { name: 'Sign-in' }).click();
  await visitor.getByRole('button', { name: 'Continue' }).click();
  await expect(visitor).toHaveURL(/\/$/);
  await visitor.goto('/catalog');
  await expect(visitor).toHaveURL(/\/catalog$/);
  await context.close();

  // The new member is listed with the provider's default role.
  await page.goto('/settings/users');
  const row = page.locator(`[data-testid=user-row][data-email="${login}@sso.example.com"]`);
  await expect(row).toContainText(`SSO ${login}`);
  await expect(row.getByLabel('Role')).toHaveValue('developer');

  await page.goto('/settings/sso');
  await page.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.locator(`[data-testid=sso-provider][data-name="${name}"]`)).toHaveCount(0);
});
