import { test, expect, Page } from '@playwright/test';
import { admin, otherBrowser, signIn } from './helpers';

// A real SAML 2.0 IdP (pysaml2) that make test runs on loopback; see end2end/saml/idp.py.
const idp = process.env.E2E_SAML_IDP!;

/** Signs in at the IdP's own page; it answers with a signed response in an HTTP-POST form
 *  that submits itself with JavaScript, or through its Continue button without. */
async function signInAtIdp(page: Page, username: string, password: string) {
  await expect(page).toHaveURL(new RegExp(`^${idp}/sso\\?`));
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (!test.info().project.use.javaScriptEnabled) {
    await page.getByRole('button', { name: 'Continue' }).click();
  }
}

test('an admin adds a SAML IdP from its metadata, tests it, and a new member signs in through it', async ({ page, browser, request }) => {
  // Ada and Grace are in the IdP's `engineering` group; each project signs in a different one.
  const person = test.info().project.use.javaScriptEnabled
    ? { email: 'ada@example.com', password: 'ada-password', name: 'Ada Lovelace' }
    : { email: 'grace@example.com', password: 'grace-password', name: 'Grace Hopper' };
  const name = `SAML IdP ${test.info().project.name}`;
  const metadata = await (await request.get(`${idp}/metadata`)).text();

  await signIn(page, admin.email, admin.password);
  await page.goto('/settings/sso');
  const form = page.getByTestId('add-saml');
  await form.getByLabel('SAML button name').fill(name);
  await form.getByLabel('Attribute preset').selectOption('okta');
  // Entity id, SSO URL and certificate by hand, without the certificate: refused.
  await form.getByLabel('IdP entity ID').fill(`${idp}/metadata`);
  await form.getByLabel('IdP SSO URL').fill(`${idp}/sso`);
  await form.getByRole('button', { name: 'Add SAML provider' }).click();
  await expect(page.getByTestId('add-saml').getByRole('alert')).toContainText('certificate');

  // The metadata instead (it carries the signing certificate).
  const again = page.getByTestId('add-saml');
  await again.getByLabel('SAML button name').fill(name);
  await again.getByLabel('Attribute preset').selectOption('okta');
  await again.getByLabel('IdP entity ID').fill('');
  await again.getByLabel('IdP SSO URL').fill('');
  await again.getByLabel('IdP metadata XML').fill(metadata);
  await again.getByLabel('Group to role mapping').fill('engineering = maintainer');
  await again.getByLabel('Role of new SAML members').selectOption('viewer');
  await again.getByRole('button', { name: 'Add SAML provider' }).click();
  const row = page.locator(`[data-testid=sso-provider][data-name="${name}"]`);
  await expect(row.getByTestId('acs-url')).toHaveText(/\/sso\/saml\/[0-9a-f-]{36}\/acs$/);
  await expect(row.getByTestId('sp-entity-id')).toHaveText(/\/sso\/saml\/[0-9a-f-]{36}\/metadata$/);
  await expect(row.getByTestId('idp-certificate')).toContainText('SHA-256');

  // The admin's test sign-in reports what the IdP sent and signs nobody in.
  await row.getByRole('link', { name: `Test sign-in with ${name}` }).click();
  await signInAtIdp(page, person.email, person.password);
  await expect(page.getByText('Test sign-in succeeded')).toBeVisible();
  await expect(page.locator('table')).toContainText(person.email);
  await expect(page.locator('table')).toContainText('maintainer (from the role mapping)');

  // The person signs in from the sign-in page and is provisioned with the mapped role.
  const { context, page: visitor } = await otherBrowser(browser);
  await visitor.goto('/login');
  await visitor.getByRole('link', { name: `Sign in with ${name}` }).click();
  await signInAtIdp(visitor, person.email, person.password);
  await expect(visitor).toHaveURL(/\/$/);
  await visitor.goto('/catalog');
  await expect(visitor).toHaveURL(/\/catalog$/);
  await context.close();

  await page.goto('/settings/users');
  const member = page.locator(`[data-testid=user-row][data-email="${person.email}"]`);
  await expect(member).toContainText(person.name);
  await expect(member.getByLabel('Role')).toHaveValue('maintainer');

  await page.goto('/settings/sso');
  await page.getByRole('button', { name: `Remove ${name}` }).click();
  await expect(page.locator(`[data-testid=sso-provider][data-name="${name}"]`)).toHaveCount(0);
});
