import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ReproServerClient } from './api/client';
// The factories are needed at once: double-clicking a package must work as soon as the app is up.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  METADATA_MODEL_NAME,
  RpzModelFactory,
  RpzWidgetFactory
} from './document/factory';
import { rpzFileType } from './document/filetype';
import type { RpzPanel } from './document/widget';
import {
  CommandIDs,
  FACTORY_NAME,
  FILE_TYPE_NAME,
  PLUGIN_ID,
  type IReproServerSettings
} from './tokens';

/** Registers the `.rpz` file type, the ReproServer panel that opens it, and its commands. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Open ReproZip packages, change their parameters and inputs, and re-run them.',
  autoStart: true,
  optional: [ILayoutRestorer, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_reproserver');
    const client = new ReproServerClient(app.serviceManager.serverSettings);

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
      client
    );
    app.docRegistry.addWidgetFactory(factory);

    const tracker = new WidgetTracker<DocumentWidget<RpzPanel>>({
      namespace: 'reproserver'
    });
    factory.widgetCreated.connect((_, widget) => {
      widget.title.icon = rpzFileType.icon;
      widget.context.pathChanged.connect(() => void tracker.save(widget));
      void tracker.add(widget);
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: 'docmanager:open',
        args: widget => ({ path: widget.context.path, factory: FACTORY_NAME }),
        name: widget => widget.context.path
      });
    }

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open in ReproServer'),
      caption: trans.__('Open a ReproZip package in the ReproServer panel'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: {
              type: 'string',
              description: trans.__('Path of the .rpz file')
            }
          },
          required: ['path']
        }
      },
      execute: args =>
        app.commands.execute('docmanager:open', {
          path: String(args.path ?? ''),
          factory: FACTORY_NAME
        })
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = (): void => {
            const values =
              settings.composite as unknown as IReproServerSettings;
            client.setServerUrl(values.serverUrl ?? '');
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error(`${PLUGIN_ID}: cannot load settings.`, reason);
        });
    }
  }
};

export default plugin;
