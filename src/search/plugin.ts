import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISearchProviderRegistry } from '@jupyterlab/documentsearch';
import { EXTENSION_ID } from '../tokens';
import { LogSearchProvider } from './log-search';

/** JupyterLab's search (Ctrl+F) in a ReproServer panel looks into the run's log. */
export const logSearchPlugin: JupyterFrontEndPlugin<void> = {
  id: `${EXTENSION_ID}:log-search`,
  description: "Lets JupyterLab's search find text in a ReproZip run's log.",
  autoStart: true,
  optional: [ISearchProviderRegistry],
  activate: (
    _app: JupyterFrontEnd,
    registry: ISearchProviderRegistry | null
  ): void => {
    registry?.add('jupyterlab-reproserver-log', LogSearchProvider);
  }
};
