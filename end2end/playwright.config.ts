import { defineConfig } from '@playwright/test';

// `make test` starts the server and provisions the tenant; see scripts/test.sh.
const port = process.env.E2E_PORT;
const tenant = process.env.E2E_TENANT;
if (!port || !tenant) throw new Error('E2E_PORT and E2E_TENANT are set by `make test`');

export default defineConfig({
  testDir: './tests',
  workers: 1,
  retries: 0,
  timeout: 30_000,
  reporter: [['list'], ['json', { outputFile: './test-results/results.json' }]],
  outputDir: './test-results',
  use: {
    baseURL: `http://${tenant}.localhost:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      // Playwright cannot download browsers here: Debian's Chromium is the browser.
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run'],
    },
  },
  projects: [
    { name: 'js', use: { javaScriptEnabled: true } },
    // The same journeys with JavaScript off prove the forms work as plain HTML.
    { name: 'no-js', use: { javaScriptEnabled: false }, grepInvert: /@hydrated/ },
  ],
});
