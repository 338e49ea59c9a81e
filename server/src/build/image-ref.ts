/**
 * How images are named: by content. The tag is the package's sha256 plus the builder version (and
 * the base image's id when there is one), so the same package gives the same reference on every
 * host that shares the registry, and a change of image layout never reuses an old image.
 */

/**
 * Bump when the image layout or config changes (what goes into the image, labels, how entries are
 * written): older images are then rebuilt instead of reused.
 */
export const BUILDER_VERSION = 1;

/** The repository images go to when none is configured. */
export const DEFAULT_REPOSITORY = 'reproserver/rpz';

/** Image labels the builder sets. */
export const LABELS = {
  packageSha256: 'org.reproserver.package-sha256',
  builderVersion: 'org.reproserver.builder-version',
  baseImage: 'org.reproserver.base-image',
  baseImageId: 'org.reproserver.base-image-id'
} as const;

/** A reference split into what the engine API wants: repository (with registry) and tag. */
export interface ImageRef {
  /** `host:port/name`, or `name` without a registry. */
  repository: string;
  tag: string;
  /** `repository:tag`. */
  reference: string;
}

export interface ImageRefInput {
  /** Lower-case hex sha256 of the package file. */
  sha256: string;
  /** `host:port` of the registry; undefined for a local-only name. */
  registry?: string;
  /** Repository path, e.g. `reproserver/rpz`. */
  repository?: string;
  /** Content id of the base image (`sha256:…`), when building on one. */
  baseImageId?: string;
}

const REPOSITORY_PATTERN =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** The content-addressed reference of a package's image. Throws on an invalid repository name. */
export function imageRef(input: ImageRefInput): ImageRef {
  if (!/^[0-9a-f]{64}$/.test(input.sha256)) {
    throw new Error(`"${input.sha256}" is not a sha256 in hex.`);
  }
  const name = input.repository ?? DEFAULT_REPOSITORY;
  if (!REPOSITORY_PATTERN.test(name)) {
    throw new Error(
      `"${name}" is not a valid image repository name: use lower-case letters, digits, separators (. _ -) and slashes, e.g. ${DEFAULT_REPOSITORY}.`
    );
  }
  const repository =
    input.registry !== undefined && input.registry !== ''
      ? `${input.registry.replace(/\/+$/, '')}/${name}`
      : name;
  let tag = `${input.sha256}-b${BUILDER_VERSION}`;
  if (input.baseImageId !== undefined) {
    // 16 hex digits of the base's content id: tags are limited to 128 characters.
    tag += `-base-${input.baseImageId.replace(/^sha256:/, '').slice(0, 16)}`;
  }
  return { repository, tag, reference: `${repository}:${tag}` };
}

/**
 * The reference of an image by its registry digest (`repository@sha256:…`): what the registry
 * holds under that name can never change, whoever can push to the tag.
 */
export function pinnedReference(ref: ImageRef, digest: string): string {
  return `${ref.repository}@${digest}`;
}
