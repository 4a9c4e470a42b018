import { defineConfig } from '@playwright/test';
import * as path from 'node:path';

// The server is started by scripts/console-tests.sh, which passes its address here.
const baseURL = process.env.DAKA_CONSOLE_URL ?? 'http://127.0.0.1:8080';
const repoRoot = path.resolve(__dirname, '..');

export default defineConfig({
  testDir: './tests',
  // One browser at a time: the machine is small and the tests share one server.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 30_000,
  reporter: 'list',
  outputDir: path.join(repoRoot, 'target', 'console-test-results'),
  use: {
    baseURL,
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'off',
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download is not used.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox'],
    },
  },
});
