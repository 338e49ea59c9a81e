import {
  BUILDER_VERSION,
  DEFAULT_REPOSITORY,
  imageRef
} from '../../../src/build';

const SHA = 'ab'.repeat(32);

describe('imageRef', () => {
  it('tags by package sha256 and builder version under the registry', () => {
    const ref = imageRef({ sha256: SHA, registry: '127.0.0.1:5000' });
    expect(ref).toEqual({
      repository: `127.0.0.1:5000/${DEFAULT_REPOSITORY}`,
      tag: `${SHA}-b${BUILDER_VERSION}`,
      reference: `127.0.0.1:5000/${DEFAULT_REPOSITORY}:${SHA}-b${BUILDER_VERSION}`
    });
  });

  it('names a local-only image without a registry', () => {
    expect(imageRef({ sha256: SHA, repository: 'lab/pkgs' }).reference).toBe(
      `lab/pkgs:${SHA}-b${BUILDER_VERSION}`
    );
  });

  it('adds the base image id, shortened to keep tags under 128 characters', () => {
    const ref = imageRef({
      sha256: SHA,
      baseImageId: `sha256:${'cd'.repeat(32)}`
    });
    expect(ref.tag).toBe(`${SHA}-b${BUILDER_VERSION}-base-${'cd'.repeat(8)}`);
    expect(ref.tag.length).toBeLessThanOrEqual(128);
  });

  it('refuses invalid repositories and hashes with a sentence', () => {
    expect(() => imageRef({ sha256: SHA, repository: 'Upper/Case' })).toThrow(
      /not a valid image repository name/
    );
    expect(() => imageRef({ sha256: 'xyz' })).toThrow(/not a sha256/);
  });
});
