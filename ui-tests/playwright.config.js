/**
 * Galata configuration: a real JupyterLab from the project's .venv, on a port of its own (so a
 * running start command does not clash), driven through Debian's Chromium. Browsers are never
 * downloaded.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = Number(process.env.REPROSERVER_UI_PORT || 8898);
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

module.exports = {
  ...baseConfig,
  // One JupyterLab and one Docker engine on two cores: tests run one at a time.
  workers: 1,
  retries: 0,
  // Needs the JupyterLab that scripts/binder-check.sh sets up (playwright.binder.config.js).
  testIgnore: '**/binder.spec.ts',
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jupyter lab --config jupyter_server_test_config.py',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120000,
    reuseExistingServer: false
  }
};
