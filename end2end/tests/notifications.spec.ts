import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { test, expect, Browser, Page } from '@playwright/test';
import { admin, otherBrowser, signIn } from './helpers';

/** Saves the kind's choice on the notifications page and loads the page again (after the save
 * has answered: with scripts off the form's own navigation would race a reload). */
async function choose(page: Page, kind: string, channel: string) {
  const row = page.getByTestId(`preference-${kind}`);
  await row.getByRole('combobox').selectOption(channel);
  const saved = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/api/notifications/preference'));
  await row.getByRole('button', { name: 'Save' }).click();
  await saved;
  await page.goto('/notifications');
}

/** Signs the admin in from a browser the portal has not seen before (a user agent of its own). */
async function signInFromAnotherBrowser(browser: Browser) {
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 e2e/${Date.now()}`;
  const context = await browser.newContext({ userAgent, javaScriptEnabled: test.info().project.use.javaScriptEnabled });
  await signIn(await context.newPage(), admin.email, admin.password);
  await context.close();
}

test('the bell counts a sign-in from another browser the moment it happens @hydrated', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/notifications');
  const markAll = page.getByTestId('mark-all-read');
  if (await markAll.count()) await markAll.getByRole('button').click();
  await expect(page.getByTestId('unread-summary')).toHaveText('Nothing unread.');
  await expect(page.locator('body[data-live=open]')).toHaveCount(1);
  const count = page.getByTestId('notification-count');
  await expect(count).toBeHidden();

  await signInFromAnotherBrowser(browser);
  // No reload: the socket brings the bell's count and the page's new row.
  await expect(count).toHaveText('1');
  await expect(page.getByTestId('notification-bell')).toHaveAttribute('aria-label', 'Notifications, 1 unread');
  const newest = page.getByTestId('notification').first();
  await expect(newest).toContainText('New sign-in from another browser');
  await expect(newest).toContainText('Firefox on Linux');

  await newest.getByRole('button', { name: /^Mark “New sign-in/ }).click();
  await expect(count).toBeHidden();
});

test('notifications are listed, marked read and chosen per kind', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await signInFromAnotherBrowser(browser);
  await page.goto('/');
  await expect(page.getByTestId('notification-count')).toBeVisible();
  await page.getByTestId('notification-bell').click();
  await expect(page).toHaveURL(/\/notifications$/);

  const newest = page.getByTestId('notification').first();
  await expect(newest).toHaveAttribute('data-read', 'false');
  await expect(newest).toContainText('New sign-in from another browser');
  await expect(newest.getByRole('link', { name: 'Open' })).toHaveAttribute('href', '/account/sessions');
  await newest.getByRole('button', { name: /^Mark “New sign-in/ }).click();
  await expect(page.getByTestId('notification').first()).toHaveAttribute('data-read', 'true');
  const markAll = page.getByTestId('mark-all-read');
  if (await markAll.count()) await markAll.getByRole('button').click();
  await expect(page.getByTestId('unread-summary')).toHaveText('Nothing unread.');
  await expect(page.getByTestId('notification-count')).toBeHidden();

  await choose(page, 'import_failed', 'off');
  await expect(page.getByTestId('preference-import_failed').getByRole('combobox')).toHaveValue('off');
  await choose(page, 'import_failed', 'app');
  await expect(page.getByTestId('preference-import_failed').getByRole('combobox')).toHaveValue('app');
  // Being told of changes to one's own account cannot be turned off.
  await expect(page.getByTestId('preference-account_security').locator('option[value=off]')).toHaveCount(0);
});

test('the audit log counts new events as they are recorded @hydrated', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/audit');
  await expect(page.locator('body[data-live=open]')).toHaveCount(1);
  await expect(page.getByTestId('audit-new-events')).toHaveCount(0);

  await signInFromAnotherBrowser(browser);
  const fresh = page.getByTestId('audit-new-events');
  await expect(fresh).toContainText(/new events?: show/);
  await fresh.click();
  await expect(fresh).toHaveCount(0);
  await expect(page.getByTestId('audit-row').first()).toHaveAttribute('data-action', 'auth.login');
});

/** The newest mail in the catcher's Maildir (`make test` starts it) addressed to `to`, waited for. */
async function newestMailTo(to: string, after: number): Promise<string> {
  const dir = path.join(process.env.BEACON_MAILDIR!, 'new');
  for (let attempt = 0; attempt < 100; attempt++) {
    const files = await readdir(dir);
    const mails = await Promise.all(files.map(async (f) => ({ at: (await stat(path.join(dir, f))).mtimeMs, text: await readFile(path.join(dir, f), 'utf8') })));
    const mine = mails.filter((m) => m.at >= after && m.text.includes(`<${to}>`)).sort((a, b) => b.at - a.at);
    if (mine.length) return mine[0].text;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${to}`);
}

test('a notification chosen by email arrives, and its link unsubscribes without signing in', async ({ page, browser }) => {
  await signIn(page, admin.email, admin.password);
  await page.goto('/notifications');
  await choose(page, 'account_security', 'email');
  await expect(page.getByTestId('preference-account_security').getByRole('combobox')).toHaveValue('email');

  const since = Date.now() - 1000;
  await signInFromAnotherBrowser(browser);
  const mail = await newestMailTo(admin.email, since);
  expect(mail).toContain('Subject: [E2E Corp] New sign-in from another browser');
  const unsubscribe = mail.match(/^List-Unsubscribe: <([^>]+)>/m)![1];

  // Signed out, as from a mail program.
  const { context, page: reader } = await otherBrowser(browser);
  await reader.goto(unsubscribe);
  await expect(reader.getByTestId('unsubscribe')).toContainText('Your account');
  await reader.getByRole('button', { name: 'Stop these emails' }).click();
  await expect(reader.getByTestId('unsubscribed')).toContainText('now shows only in the app');
  await context.close();

  await page.reload();
  await expect(page.getByTestId('preference-account_security').getByRole('combobox')).toHaveValue('app');
});
