import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';

describe('server limits in the configuration', () => {
  it('the environment overrides the timeouts and the connection limit, and adds allowed hosts', () => {
    const { config } = loadConfig({
      env: {
        SLUICE_HEADERS_TIMEOUT_MS: '1000',
        SLUICE_BODY_TIMEOUT_MS: '0',
        SLUICE_REQUEST_TIMEOUT_MS: '5000',
        SLUICE_KEEP_ALIVE_TIMEOUT_MS: '2000',
        SLUICE_MAX_CONNECTIONS_PER_ADDRESS: '8',
        SLUICE_ALLOWED_HOSTS: 'gateway.local, dev.box',
      },
    });
    expect(config.server).toMatchObject({
      headersTimeoutMs: 1000,
      bodyTimeoutMs: 0,
      requestTimeoutMs: 5000,
      keepAliveTimeoutMs: 2000,
      maxConnectionsPerAddress: 8,
      allowedHosts: ['gateway.local', 'dev.box'],
    });
  });

  it('refuses values that are not milliseconds, naming the variable', () => {
    expect(() => loadConfig({ env: { SLUICE_BODY_TIMEOUT_MS: '30s' } })).toThrow(
      /SLUICE_BODY_TIMEOUT_MS: expected milliseconds, an integer from 0, got '30s'/,
    );
    expect(() => loadConfig({ env: { SLUICE_HEADERS_TIMEOUT_MS: '0' } })).toThrow(
      /SLUICE_HEADERS_TIMEOUT_MS/,
    );
  });
});
