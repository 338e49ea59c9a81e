import { loadConfig } from '../../../src/config';
import {
  consentSentence,
  exposuresOf,
  needsConsent
} from '../../../src/backends/exposure';
import { dockerIsolation } from '../../../src/backends/detect';

const env = { REPROSERVER_STATE_DIR: '/tmp/reproserver-config-test' };

describe('the weak-isolation policy', () => {
  it('asks on a loopback server, refuses on one others can reach', () => {
    expect(loadConfig({}, env).weakIsolation).toBe('ask');
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) {
      expect(loadConfig({ host }, env).weakIsolation).toBe('ask');
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'lab.example.org']) {
      expect(loadConfig({ host }, env).weakIsolation).toBe('refuse');
    }
  });

  it('refuses on a server shared by several users, even on loopback', () => {
    expect(
      loadConfig({ 'users-file': '/etc/reproserver/users' }, env).weakIsolation
    ).toBe('refuse');
    expect(
      loadConfig({}, { ...env, REPROSERVER_USERS_FILE: '/srv/users' })
        .weakIsolation
    ).toBe('refuse');
    expect(
      loadConfig({ 'users-file': '/srv/users', 'weak-isolation': 'ask' }, env)
        .weakIsolation
    ).toBe('ask');
  });

  it('is what the administrator chose, checked', () => {
    expect(
      loadConfig({ host: '0.0.0.0', 'weak-isolation': 'ask' }, env)
        .weakIsolation
    ).toBe('ask');
    expect(
      loadConfig({}, { ...env, REPROSERVER_WEAK_ISOLATION: 'refuse' })
        .weakIsolation
    ).toBe('refuse');
    expect(() => loadConfig({ 'weak-isolation': 'maybe' }, env)).toThrow(
      'Invalid --weak-isolation "maybe": use ask or refuse.'
    );
  });
});

describe('exposures', () => {
  const contained = dockerIsolation();

  it('needs consent below files + network only', () => {
    expect(exposuresOf(contained)).toEqual([]);
    expect(needsConsent(contained)).toBe(false);
    const processesOnly = { ...contained, processes: false };
    expect(exposuresOf(processesOnly)).toEqual(['processes']);
    expect(needsConsent(processesOnly)).toBe(false);
    expect(needsConsent({ ...contained, files: false })).toBe(true);
    expect(needsConsent({ ...contained, network: false })).toBe(true);
  });

  it('names what the experiment could do', () => {
    expect(
      consentSentence('sandbox', {
        ...contained,
        network: false,
        processes: false
      })
    ).toBe(
      'The sandbox backend does not isolate this experiment from your account here: it could connect to the network, including services on this machine such as JupyterLab; see your other programs, and read or signal those it has the rights to.'
    );
  });
});
