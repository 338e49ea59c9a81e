/**
 * Where each data repository's public API lives. In production these are the real services; a
 * test (or a private mirror) points them elsewhere through the environment. A base URL may carry a
 * path (`https://host/zenodo`), so one server can stand in for several services.
 *
 * Dataverse has no single address (each institution runs its own installation): a Dataverse
 * dataset URL names its installation, whose API is on the same origin.
 */
export interface ImportServices {
  /** DOI resolution through the Handle System proxy's REST API (`/api/handles/{doi}`). */
  doi: string;
  /** Zenodo: record pages `/records/{id}` and the API `/api/records/{id}`. */
  zenodo: string;
  /** OSF's pages: projects `/{guid}/`, files `/{guid}/` or `/{node}/files/osfstorage/{id}`. */
  osf: string;
  /** OSF's API v2 (`/v2/nodes/…`, `/v2/files/…`). */
  osfApi: string;
  /** Figshare's pages: `/articles/{type}/{title}/{id}[/{version}]`. */
  figshare: string;
  /** Figshare's API v2 (`/v2/articles/{id}`). */
  figshareApi: string;
}

export const DEFAULT_SERVICES: ImportServices = {
  doi: 'https://doi.org',
  zenodo: 'https://zenodo.org',
  osf: 'https://osf.io',
  osfApi: 'https://api.osf.io',
  figshare: 'https://figshare.com',
  figshareApi: 'https://api.figshare.com'
};

/** The environment variable of each base URL. */
export const SERVICE_VARIABLES: Record<keyof ImportServices, string> = {
  doi: 'REPROSERVER_DOI_RESOLVER_URL',
  zenodo: 'REPROSERVER_ZENODO_URL',
  osf: 'REPROSERVER_OSF_URL',
  osfApi: 'REPROSERVER_OSF_API_URL',
  figshare: 'REPROSERVER_FIGSHARE_URL',
  figshareApi: 'REPROSERVER_FIGSHARE_API_URL'
};

/** The base URLs from the environment (https only, no trailing slash), defaults elsewhere. */
export function servicesFromEnv(
  env: Record<string, string | undefined> = process.env
): ImportServices {
  const services = { ...DEFAULT_SERVICES };
  for (const key of Object.keys(
    SERVICE_VARIABLES
  ) as (keyof ImportServices)[]) {
    const text = env[SERVICE_VARIABLES[key]];
    if (text === undefined || text === '') {
      continue;
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(
        `Invalid ${SERVICE_VARIABLES[key]} "${text}": give an https:// URL.`
      );
    }
    if (url.protocol !== 'https:' || url.search || url.hash) {
      throw new Error(
        `Invalid ${SERVICE_VARIABLES[key]} "${text}": give an https:// URL without query.`
      );
    }
    services[key] = url.href.replace(/\/+$/, '');
  }
  return services;
}

/** The path of `url` below `base` (starting with `/`), or undefined when it is not below it. */
export function pathBelow(url: URL, base: string): string | undefined {
  const root = new URL(base);
  if (url.origin !== root.origin) {
    return undefined;
  }
  const prefix = root.pathname.replace(/\/+$/, '');
  if (prefix === '') {
    return url.pathname;
  }
  if (url.pathname === prefix || url.pathname.startsWith(prefix + '/')) {
    return url.pathname.slice(prefix.length) || '/';
  }
  return undefined;
}
