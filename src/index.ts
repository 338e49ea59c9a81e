import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { FileDialog } from '@jupyterlab/filebrowser';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
// The client is needed at once too: restored panels ask the server as soon as they open.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ReproServerClient } from './api/client';
// The factories are needed at once: double-clicking a package must work as soon as the app is up.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  METADATA_MODEL_NAME,
  RpzModelFactory,
  RpzWidgetFactory
} from './document/factory';
import { rpzFileType } from './document/filetype';
import { ConsentMemory } from './model/consent';
import type { IPanelOptions, PackageSession } from './model/package';
import type { RunRecord } from 'reproserver/contract';
import type { RunSession } from './model/run';
import { weakIsolationPrompt } from './panel/consent-dialog';
import type { PanelTab, RpzPanel } from './panel/panel';
import {
  CommandIDs,
  FACTORY_NAME,
  FILE_TYPE_NAME,
  IReproServerTracker,
  PLUGIN_ID,
  type IReproServerSettings
} from './tokens';
import { ReproServerTracker } from './tracker';
import { RunEndWatcher } from './run-ends';
import { logSearchPlugin } from './search/plugin';
import { runningRunsPlugin } from './status/plugin';
import { importPlugin } from './import/plugin';
// Run files open from the file browser and by URL as soon as the app is up, as packages do.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  RUN_FILE_FACTORY_NAME,
  RUN_FILE_TYPE_NAME,
  RunFileWidgetFactory,
  runFileType
} from './runfile/document';
import { SAVE_RUN_FILE_COMMAND } from './runfile/command';
// Loaded at once anyway: the document factory's panel imports it.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { statusLabel } from './panel/run';

/** The browser's local storage, or null where it is refused (private modes, sandboxed frames). */
function browserStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** Registers the `.rpz` file type, the ReproServer panel that opens it, and its commands. */
const plugin: JupyterFrontEndPlugin<IReproServerTracker> = {
  id: PLUGIN_ID,
  description:
    'Open ReproZip packages, change their parameters and inputs, and re-run them.',
  autoStart: true,
  provides: IReproServerTracker,
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ITranslator,
    ICommandPalette,
    IDocumentManager,
    // A sweep's plot is drawn by JupyterLab's Vega-Lite renderer, found through it.
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    docManager: IDocumentManager | null,
    rendermime: IRenderMimeRegistry | null
  ): IReproServerTracker => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_reproserver');
    const client = new ReproServerClient(app.serviceManager.serverSettings);
    let options: IPanelOptions = {
      limits: { memoryMiB: 0, timeoutSeconds: 3600 },
      backend: 'auto',
      outputFolder: '',
      autoSave: true
    };

    // Panels wait for the settings (the server URL) before their first request.
    let resolveSettings: () => void = () => undefined;
    const settingsLoaded = new Promise<void>(resolve => {
      resolveSettings = resolve;
    });

    /** Says how saving a run file went. */
    const notifySaved = (kind: 'error' | 'info', text: string): void => {
      if (kind === 'error') {
        Notification.error(text, { autoClose: false });
      } else {
        Notification.success(text, { autoClose: 4000 });
      }
    };
    /** "Save … as run file": loaded when first used. */
    const saveRunFile = async (
      session: PackageSession,
      record?: RunRecord
    ): Promise<void> => {
      const { saveAsRunFile } = await import('./runfile/save');
      await saveAsRunFile(
        session,
        app.serviceManager.contents,
        trans,
        notifySaved,
        record
      );
    };

    app.docRegistry.addFileType({
      ...rpzFileType,
      displayName: trans.__('ReproZip package')
    });
    app.docRegistry.addModelFactory(new RpzModelFactory());
    const factory = new RpzWidgetFactory(
      {
        name: FACTORY_NAME,
        label: trans.__('ReproServer'),
        modelName: METADATA_MODEL_NAME,
        fileTypes: [FILE_TYPE_NAME],
        defaultFor: [FILE_TYPE_NAME],
        readOnly: true
      },
      client,
      () => options,
      () => settingsLoaded,
      {
        trans,
        consent: {
          prompt: weakIsolationPrompt(trans),
          memory: new ConsentMemory(browserStorage())
        },
        openFile: path =>
          void app.commands.execute('docmanager:open', { path }),
        openFolder: path =>
          void app.commands.execute('filebrowser:go-to-path', {
            path: path.endsWith('/') ? path : path + '/'
          }),
        copy: text => {
          Clipboard.copyToSystem(text);
          Notification.info(trans.__('Copied to the clipboard.'), {
            autoClose: 2000
          });
        },
        shortcutOf: command => {
          const binding = app.commands.keyBindings.find(
            b => b.command === command
          );
          return binding ? CommandRegistry.formatKeystroke(binding.keys) : null;
        },
        pickWorkspaceFile: async inputName => {
          if (docManager) {
            // JupyterLab's own file dialog, rooted where the file browser is.
            const result = await FileDialog.getOpenFiles({
              manager: docManager,
              title: trans.__('Replace %1', inputName),
              translator: translator ?? undefined,
              filter: model =>
                model.type === 'notebook' ||
                model.type === 'file' ||
                model.type === 'directory'
                  ? {}
                  : null
            });
            const chosen = result.button.accept
              ? result.value?.find(m => m.type !== 'directory')
              : undefined;
            return chosen ? chosen.path : null;
          }
          const result = await InputDialog.getText({
            title: trans.__('Replace %1', inputName),
            label: trans.__(
              'Path of a workspace file (relative to the file browser root):'
            ),
            placeholder: trans.__('data/input.txt')
          });
          return result.button.accept && result.value
            ? result.value.trim()
            : null;
        },
        contents: app.serviceManager.contents,
        workspaceFiles: app.serviceManager.contents,
        confirmReplace: async path => {
          const result = await showDialog({
            title: trans.__('Replace %1?', path),
            body: trans.__(
              'A file with this name is in the workspace already. Replace it with this table?'
            ),
            buttons: [
              Dialog.cancelButton({ label: trans.__('Keep it') }),
              Dialog.warnButton({ label: trans.__('Replace') })
            ]
          });
          return result.button.accept;
        },
        rendermime,
        saveRunFile: (session, record) => void saveRunFile(session, record)
      }
    );
    app.docRegistry.addWidgetFactory(factory);

    app.docRegistry.addFileType({
      ...runFileType,
      displayName: trans.__('ReproServer run file')
    });
    const runFileFactory = new RunFileWidgetFactory(
      {
        name: RUN_FILE_FACTORY_NAME,
        label: trans.__('ReproServer'),
        modelName: METADATA_MODEL_NAME,
        fileTypes: [RUN_FILE_TYPE_NAME],
        defaultFor: [RUN_FILE_TYPE_NAME],
        readOnly: true
      },
      client,
      () => options,
      () => settingsLoaded,
      factory.panelServices
    );
    app.docRegistry.addWidgetFactory(runFileFactory);

    const tracker = new ReproServerTracker({
      namespace: 'reproserver',
      client
    });
    /** Says that a run ended while its panel was hidden, with a button that shows it. */
    const notifyRunEnd = (
      widget: DocumentWidget<RpzPanel>,
      run: RunSession
    ): void => {
      const name = widget.context.path.split('/').pop() ?? widget.context.path;
      const message = trans.__(
        '%1: run %2 ended (%3).',
        name,
        run.id,
        statusLabel(run.status, trans)
      );
      const options = {
        autoClose: run.status === 'succeeded' ? 10000 : (false as const),
        actions: [
          {
            label: trans.__('Show run'),
            caption: trans.__('Show this run in its ReproServer panel'),
            callback: () => {
              app.shell.activateById(widget.id);
              widget.content.selectTab('run');
            }
          }
        ]
      };
      if (run.status === 'succeeded') {
        Notification.success(message, options);
      } else if (run.status === 'cancelled' || run.status === 'interrupted') {
        Notification.info(message, options);
      } else {
        Notification.error(message, options);
      }
    };

    const onWidgetCreated = (
      _: unknown,
      widget: DocumentWidget<RpzPanel>
    ): void => {
      const watcher = new RunEndWatcher(
        widget.content.session,
        () => widget.isVisible,
        run => notifyRunEnd(widget, run)
      );
      widget.disposed.connect(() => watcher.dispose());
      widget.title.icon = rpzFileType.icon;
      widget.context.pathChanged.connect(() => void tracker.save(widget));
      void tracker.add(widget);
    };
    factory.widgetCreated.connect(onWidgetCreated);
    runFileFactory.widgetCreated.connect(onWidgetCreated);
    if (restorer) {
      void restorer.restore(tracker, {
        command: 'docmanager:open',
        args: widget => ({
          path: widget.context.path,
          factory: /\.rpzrun$/i.test(widget.context.path)
            ? RUN_FILE_FACTORY_NAME
            : FACTORY_NAME
        }),
        name: widget => widget.context.path
      });
    }

    /** The panel a command acts on: the current one. */
    const current = (): RpzPanel | null =>
      tracker.currentWidget?.content ?? null;
    const isEnabled = () => current() !== null;

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open in ReproServer'),
      caption: trans.__('Open a ReproZip package in the ReproServer panel'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: {
              type: 'string',
              description: trans.__(
                'Path of the .rpz file; without it, the file browser selection'
              )
            }
          }
        }
      },
      icon: args => (args.path ? undefined : rpzFileType.icon),
      execute: args =>
        args.path
          ? app.commands.execute('docmanager:open', {
              path: String(args.path),
              factory: FACTORY_NAME
            })
          : app.commands.execute('filebrowser:open', { factory: FACTORY_NAME })
    });

    app.commands.addCommand(CommandIDs.run, {
      label: trans.__('Run ReproZip Package'),
      caption: trans.__(
        'Run the package of the current ReproServer panel with its parameters and inputs'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => {
        const panel = current();
        return (
          panel !== null &&
          panel.session.phase === 'ready' &&
          (panel.session.run?.finished ?? true)
        );
      },
      execute: () => current()?.runPackage()
    });

    app.commands.addCommand(CommandIDs.cancel, {
      label: trans.__('Cancel ReproZip Run'),
      caption: trans.__('Cancel the run of the current ReproServer panel'),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => {
        const run = current()?.session.run;
        return !!run && !run.finished;
      },
      execute: () => current()?.session.cancel()
    });

    app.commands.addCommand(CommandIDs.copyCommand, {
      label: trans.__('Copy ReproZip Run as Command'),
      caption: trans.__(
        'Copy the "reproserver run" command line equivalent to the current edits'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled,
      execute: () => {
        const panel = current();
        if (panel) {
          Clipboard.copyToSystem(panel.session.commandFor());
        }
      }
    });

    app.commands.addCommand(CommandIDs.resetEdits, {
      label: trans.__('Reset ReproZip Parameters and Inputs'),
      caption: trans.__('Back to the package as recorded'),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled,
      execute: () => current()?.session.edits?.resetAll()
    });

    app.commands.addCommand(CommandIDs.showTab, {
      label: args =>
        args.tab
          ? trans.__('Show ReproServer %1', String(args.tab))
          : trans.__('Show ReproServer Section'),
      caption: trans.__('Show a section of the current ReproServer panel'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            tab: {
              type: 'string',
              enum: [
                'overview',
                'parameters',
                'inputs',
                'run',
                'history',
                'sweep'
              ],
              description: trans.__('The section to show')
            }
          },
          required: ['tab']
        }
      },
      isEnabled,
      execute: args => current()?.selectTab(String(args.tab) as PanelTab)
    });

    app.commands.addCommand(SAVE_RUN_FILE_COMMAND, {
      label: trans.__('Save Configuration as Run File…'),
      caption: trans.__(
        'Save the package of the current ReproServer panel with its edits as a .rpzrun run file'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => current()?.session.phase === 'ready',
      execute: async () => {
        const panel = current();
        if (panel) {
          await saveRunFile(panel.session);
        }
      }
    });

    tracker.currentChanged.connect(() => app.commands.notifyCommandChanged());

    if (palette) {
      const category = trans.__('ReproServer');
      for (const command of [
        CommandIDs.run,
        CommandIDs.cancel,
        CommandIDs.copyCommand,
        CommandIDs.resetEdits,
        SAVE_RUN_FILE_COMMAND
      ]) {
        palette.addItem({ command, category });
      }
      for (const tab of [
        'overview',
        'parameters',
        'inputs',
        'run',
        'history',
        'sweep'
      ]) {
        palette.addItem({
          command: CommandIDs.showTab,
          category,
          args: { tab }
        });
      }
    }

    // A server named in the settings without a token in them: asked for when it refuses one.
    client.setTokenPrompt(async serverUrl => {
      const result = await InputDialog.getPassword({
        title: trans.__('ReproServer companion server token'),
        label: trans.__(
          "The companion server at %1 needs its own token (reproserver serve writes it to <state>/token). JupyterLab's token is never sent to it.",
          serverUrl
        )
      });
      return result.button.accept && result.value ? result.value : null;
    });

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = (): void => {
            const values =
              settings.composite as unknown as Partial<IReproServerSettings>;
            client.setServerUrl(
              values.serverUrl ?? '',
              values.serverToken ?? ''
            );
            options = {
              backend: values.backend ?? 'auto',
              limits: {
                memoryMiB: values.memoryMiB ?? 0,
                timeoutSeconds: values.timeoutSeconds ?? 3600
              },
              outputFolder: values.outputFolder ?? '',
              autoSave: values.autoSave ?? true
            };
            tracker.forEach(widget =>
              widget.content.session.setOptions(options)
            );
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error(`${PLUGIN_ID}: cannot load settings.`, reason);
        })
        .finally(resolveSettings);
    } else {
      resolveSettings();
    }
    return tracker;
  }
};

export default [plugin, runningRunsPlugin, logSearchPlugin, importPlugin];

// What other extensions import (`import { IReproServerTracker } from 'jupyterlab-reproserver'`):
// the package's main entry is the module JupyterLab shares between extensions, so the token they
// get is the one this plugin provides.
export { IReproServerTracker } from './tokens';
export type { RpzPanel } from './panel/panel';
export type { ReproServerClient } from './api/client';
