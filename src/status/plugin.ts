import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { RpzPanel } from '../panel/panel';
import { EXTENSION_ID, IReproServerTracker } from '../tokens';
import { RunningRunsItem } from './item';
import { RunningRuns } from './running-runs';

/**
 * The number of ReproZip runs going on across the open packages, in JupyterLab's status bar
 * (when there is one); a click shows a panel with a run going on.
 */
export const runningRunsPlugin: JupyterFrontEndPlugin<void> = {
  id: `${EXTENSION_ID}:running-runs`,
  description:
    'Shows in the status bar how many ReproZip runs are going on, and where.',
  autoStart: true,
  requires: [IReproServerTracker],
  optional: [IStatusBar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: IReproServerTracker,
    statusBar: IStatusBar | null,
    translator: ITranslator | null
  ): void => {
    if (!statusBar) {
      return;
    }
    const trans = (translator ?? nullTranslator).load('jupyterlab_reproserver');
    const runs = new RunningRuns<DocumentWidget<RpzPanel>>(tracker);
    const item = new RunningRunsItem(
      runs,
      trans,
      widget => {
        app.shell.activateById(widget.id);
        widget.content.selectTab('run');
      },
      () => tracker.currentWidget
    );
    statusBar.registerStatusItem(runningRunsPlugin.id, {
      item,
      align: 'left',
      rank: 40,
      isActive: () => runs.count > 0,
      activeStateChanged: runs.changed
    });
  }
};
