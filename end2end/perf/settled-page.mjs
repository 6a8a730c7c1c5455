// Time to a settled page in Chromium: navigation start until the page has loaded and the
// WASM has hydrated it (`data-hydrated` on <body>, set by the app once it has taken over).
// Not Playwright's `networkidle`: that adds 500 ms of required quiet to every figure. Prints cold (fresh browser, empty
// cache) and warm (same browser, cached WASM) p50/p95 for one path.
//   BASE_URL=http://acme.localhost:3000 EMAIL=… PASSWORD=… node end2end/perf/settled-page.mjs /catalog [runs]
import { chromium } from '@playwright/test';

const base = process.env.BASE_URL;
const [path = '/catalog', runs = '15'] = process.argv.slice(2);
if (!base || !process.env.EMAIL || !process.env.PASSWORD) throw new Error('set BASE_URL, EMAIL and PASSWORD');
const launch = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
};

async function signedIn(browser) {
  const page = await browser.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(process.env.EMAIL);
  await page.getByLabel('Password').fill(process.env.PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  return page;
}

async function settle(page) {
  const started = performance.now();
  await page.goto(`${base}${path}`, { waitUntil: 'load' });
  await page.waitForSelector('body[data-hydrated="true"]');
  return performance.now() - started;
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const cold = [];
const warm = [];
for (let i = 0; i < Number(runs); i++) {
  const browser = await chromium.launch(launch);
  const context = await browser.newContext();
  const page = await signedIn(context);
  // The sign-in page already loaded the WASM once: clear the cache for a cold first view.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.clearBrowserCache');
  cold.push(await settle(page));
  warm.push(await settle(page));
  await browser.close();
}
const row = (label, xs) => console.log(`${label.padEnd(34)} p50 ${pct(xs, 50).toFixed(0)} ms   p95 ${pct(xs, 95).toFixed(0)} ms`);
row(`${path} cold (WASM not cached)`, cold);
row(`${path} warm`, warm);
