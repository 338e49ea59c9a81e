/**
 * What `reproserver fetch` and `POST /api/imports` accept, before any request: DOIs in their
 * usual spellings, record URLs of each service (at the real addresses and at configured ones),
 * https URLs of `.rpz` files; everything else refused with a sentence. And the pure helpers the
 * download relies on: names made safe, the choice among candidates, the progress meter.
 */
import { DomainError } from '../../../src/errors';
import {
  choose,
  hexOf,
  packagesOf,
  safeName,
  type Candidate
} from '../../../src/fetch/candidates';
import { ProgressMeter } from '../../../src/fetch/progress';
import { DEFAULT_SERVICES, servicesFromEnv } from '../../../src/fetch/services';
import { parseSource } from '../../../src/fetch/source';

const parse = (text: string) => parseSource(text, DEFAULT_SERVICES);

function refusal(text: string): string {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('bad-source');
    return (error as DomainError).message;
  }
  throw new Error(`"${text}" was accepted`);
}

describe('parseSource', () => {
  it.each([
    '10.5281/zenodo.1234',
    'doi:10.5281/zenodo.1234',
    'DOI: 10.5281/zenodo.1234',
    'https://doi.org/10.5281/zenodo.1234',
    'https://dx.doi.org/10.5281/zenodo.1234',
    'http://doi.org/10.5281/zenodo.1234',
    '  https://doi.org/10.5281%2Fzenodo.1234  '
  ])('reads the DOI in %s', text => {
    expect(parse(text)).toEqual({ kind: 'doi', doi: '10.5281/zenodo.1234' });
  });

  it('reads record URLs of each service', () => {
    expect(parse('https://zenodo.org/records/1234')).toEqual({
      kind: 'zenodo',
      record: '1234'
    });
    expect(parse('https://zenodo.org/record/1234/files/x.rpz')).toEqual({
      kind: 'zenodo',
      record: '1234'
    });
    expect(parse('https://osf.io/abc12/')).toEqual({
      kind: 'osf-guid',
      guid: 'abc12'
    });
    expect(parse('https://osf.io/abc12/files/osfstorage/64f0c0ffee')).toEqual({
      kind: 'osf-file',
      file: '64f0c0ffee'
    });
    expect(parse('https://osf.io/abc12/files/osfstorage')).toEqual({
      kind: 'osf-node',
      node: 'abc12'
    });
    expect(parse('https://osf.io/download/xyz98/')).toEqual({
      kind: 'osf-file',
      file: 'xyz98'
    });
    expect(
      parse('https://figshare.com/articles/dataset/My_data/123456/2')
    ).toEqual({ kind: 'figshare', article: '123456', version: '2' });
    expect(parse('https://figshare.com/articles/123456')).toEqual({
      kind: 'figshare',
      article: '123456',
      version: null
    });
    expect(
      parse(
        'https://dataverse.harvard.edu/dataset.xhtml?persistentId=doi:10.7910/DVN/ABC123&version=1.0'
      )
    ).toEqual({
      kind: 'dataverse',
      origin: 'https://dataverse.harvard.edu',
      persistentId: 'doi:10.7910/DVN/ABC123'
    });
    expect(parse('https://example.org/a/b/experiment.RPZ?x=1')).toEqual({
      kind: 'url',
      url: 'https://example.org/a/b/experiment.RPZ?x=1'
    });
  });

  it('recognizes the services at configured addresses, paths included', () => {
    const services = servicesFromEnv({
      REPROSERVER_ZENODO_URL: 'https://127.0.0.1:8443/zenodo/',
      REPROSERVER_DOI_RESOLVER_URL: 'https://127.0.0.1:8443/doi'
    });
    expect(services.zenodo).toBe('https://127.0.0.1:8443/zenodo');
    expect(
      parseSource('https://127.0.0.1:8443/zenodo/records/7', services)
    ).toEqual({ kind: 'zenodo', record: '7' });
    expect(
      parseSource('https://127.0.0.1:8443/doi/10.1234/x', services)
    ).toEqual({ kind: 'doi', doi: '10.1234/x' });
    // Beside the prefix is not the service.
    expect(() =>
      parseSource('https://127.0.0.1:8443/zenodoo/records/7', services)
    ).toThrow(DomainError);
    expect(() =>
      servicesFromEnv({ REPROSERVER_OSF_API_URL: 'http://api.osf.io' })
    ).toThrow(/REPROSERVER_OSF_API_URL/);
  });

  it('refuses everything else with what would do', () => {
    expect(refusal('')).toMatch(/^Nothing to import: give a DOI/);
    expect(refusal('my package')).toMatch(/is neither a DOI nor a URL/);
    expect(refusal('http://example.org/x.rpz')).toMatch(
      /^Only https:\/\/ URLs are fetched \(not http\)/
    );
    expect(refusal('file:///etc/passwd')).toMatch(/not file/);
    expect(refusal('https://example.org/paper.pdf')).toMatch(
      /neither a record of Zenodo, OSF, Figshare or Dataverse nor an \.rpz file/
    );
    expect(refusal('https://zenodo.org/communities/x')).toMatch(/neither/);
    expect(refusal('https://user:pw@example.org/x.rpz')).toMatch(
      /user name or password/
    );
    expect(refusal(`https://example.org/${'a'.repeat(3000)}.rpz`)).toMatch(
      /longer than 2048 characters/
    );
  });
});

describe('candidates', () => {
  const file = (name: string): Candidate => ({
    name,
    size: 10,
    url: `https://example.org/${name}`,
    md5: null,
    sha256: null
  });

  it('keeps the .rpz files, and says what a record without one holds', () => {
    expect(
      packagesOf([file('a.csv'), file('b.RPZ')], 'Record 1').map(f => f.name)
    ).toEqual(['b.RPZ']);
    expect(() =>
      packagesOf(
        ['1', '2', '3', '4', '5', '6'].map(n => file(`${n}.txt`)),
        'Record 1'
      )
    ).toThrow(
      'Record 1 holds 6 files (1.txt, 2.txt, 3.txt, 4.txt, 5.txt, …) and no ReproZip package (.rpz); check that it is the record you meant.'
    );
    expect(() => packagesOf([], 'Record 2')).toThrow(/holds no file/);
  });

  it('takes the only package, the one named, or asks', () => {
    const two = [file('a.rpz'), file('b.rpz')];
    expect(choose([file('a.rpz')], undefined, 'R')?.name).toBe('a.rpz');
    expect(choose(two, undefined, 'R')).toBeUndefined();
    expect(choose(two, 'b.rpz', 'R')?.name).toBe('b.rpz');
    expect(() => choose(two, 'c.rpz', 'R')).toThrow(
      'R has no package named "c.rpz"; its packages: a.rpz, b.rpz.'
    );
  });

  it('makes names safe to create: no path, no control character, not hidden, bounded', () => {
    expect(safeName('../../etc/x.rpz')).toBe('x.rpz');
    expect(safeName('a\\b\\c.rpz')).toBe('c.rpz');
    expect(safeName('..hidden.rpz')).toBe('hidden.rpz');
    expect(safeName('evil\u0000\u001b[2J.rpz')).toBe('evil[2J.rpz');
    expect(safeName('')).toBe('package.rpz');
    expect(safeName('.rpz')).toBe('rpz.rpz');
    expect(safeName('download')).toBe('download.rpz');
    const long = safeName(`${'x'.repeat(1000)}.rpz`);
    expect(long).toHaveLength(255);
    expect(long.endsWith('.rpz')).toBe(true);
  });

  it('reads checksums only of the right length and alphabet', () => {
    expect(hexOf('md5:ABCDEF0123456789abcdef0123456789', 32)).toBe(
      'abcdef0123456789abcdef0123456789'
    );
    expect(hexOf('md5:xyz', 32)).toBeNull();
    expect(hexOf(42, 32)).toBeNull();
  });
});

describe('ProgressMeter', () => {
  it('reports the rate over the last seconds and the time left, at most every 250 ms', () => {
    let now = 1_000_000;
    const meter = new ProgressMeter(() => now);
    expect(meter.update(0, 1000)).toEqual({
      bytes: 0,
      total: 1000,
      rate: null,
      etaSeconds: null
    });
    now += 100;
    expect(meter.update(50, 1000)).toBeUndefined();
    now += 900;
    expect(meter.update(100, 1000)).toEqual({
      bytes: 100,
      total: 1000,
      rate: 100,
      etaSeconds: 9
    });
    // A stall shows: after 10 s without bytes, the rate is that of the last 5 s.
    now += 10_000;
    expect(meter.update(100, 1000)?.rate).toBe(0);
  });
});
