/**
 * Identifiers and interfaces shared by the extension's plugins and offered to other extensions.
 * Importing this has no side effects beyond creating the token.
 */
import type { IWidgetTracker } from '@jupyterlab/apputils';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import { Token } from '@lumino/coreutils';
import type { ReproServerClient } from './api/client';
import type { RpzPanel } from './panel/panel';

/** The npm package name; plugin ids and settings are keyed by it. */
export const EXTENSION_ID = 'jupyterlab-reproserver';

/** The main plugin's id; its settings schema is `schema/plugin.json`. */
export const PLUGIN_ID = `${EXTENSION_ID}:plugin`;

/** The document widget factory that opens `.rpz` files. */
export const FACTORY_NAME = 'ReproServer';

/** The file type registered for ReproZip packages. */
export const FILE_TYPE_NAME = 'rpz';

/** Name of the companion server's entry in jupyter-server-proxy (`<base_url>reproserver/`). */
export const PROXY_NAME = 'reproserver';

/** Command ids, `reproserver:<verb>`. */
export namespace CommandIDs {
  export const open = 'reproserver:open';
  export const run = 'reproserver:run';
  export const cancel = 'reproserver:cancel';
  export const copyCommand = 'reproserver:copy-command';
  export const resetEdits = 'reproserver:reset-edits';
  export const showTab = 'reproserver:show-tab';
}

/** The backend a run asks for. */
export type BackendChoice = 'auto' | 'docker' | 'sandbox';

/** The user's settings (`schema/plugin.json`). */
export interface IReproServerSettings {
  /** Companion server URL; empty means the proxied one under JupyterLab's base URL. */
  serverUrl: string;
  /** The token of the server named in `serverUrl` (never JupyterLab's); empty: asked for. */
  serverToken: string;
  /** Where experiments run: `auto` (Docker when a daemon answers, else the sandbox). */
  backend: BackendChoice;
  /** Default memory limit of a run, MiB; 0: the companion server's (`defaultLimits`). */
  memoryMiB: number;
  /** Default wall-clock limit of a run, seconds. */
  timeoutSeconds: number;
  /** Workspace folder for a run's outputs: `{dir}`, `{package}`, `{run}`; empty = the server's default. */
  outputFolder: string;
  /** Save a run's outputs into the workspace as soon as it ends. */
  autoSave: boolean;
}

/**
 * The open ReproServer panels (one per package), and the client of the companion server they
 * talk to. Other extensions require it to follow the panels (`currentChanged`, `widgetAdded`),
 * read a panel's `session` (package, edits, runs), or call the server with the same URL and
 * token as the panels.
 */
export interface IReproServerTracker extends IWidgetTracker<
  DocumentWidget<RpzPanel>
> {
  /** The companion server's client, set up from the user's settings. */
  readonly client: ReproServerClient;
}

/** The token of the ReproServer panels' tracker, provided by the main plugin. */
export const IReproServerTracker = new Token<IReproServerTracker>(
  `${EXTENSION_ID}:IReproServerTracker`,
  'The open ReproServer package panels and the client of the companion server.'
);
