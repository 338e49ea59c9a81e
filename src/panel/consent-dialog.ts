import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { Exposure } from 'reproserver/contract';
import type { ConsentPrompt } from '../model/consent';
import { h } from './dom';

/**
 * The question asked once per package before it runs on a backend that does not isolate it from
 * the user's account (proot without Landlock and seccomp): what the experiment will be able to
 * do, and that it should run only if they trust where the package comes from. Cancel is the
 * default button: pressing Enter does not run a stranger's package unconfined.
 */
export function weakIsolationPrompt(trans: TranslationBundle): ConsentPrompt {
  return async request => {
    const body = h(
      'div',
      { class: 'jp-ReproServer-consent' },
      h(
        'p',
        {},
        trans.__(
          'On this machine, the %1 backend cannot isolate “%2” from your account. While it runs, the experiment will be able to:',
          request.backend,
          request.packageName
        )
      ),
      h(
        'ul',
        {},
        ...request.exposures.map(exposure =>
          h(
            'li',
            { class: `jp-ReproServer-exposure-${exposure}` },
            exposureText(exposure, trans)
          )
        )
      ),
      h(
        'p',
        {},
        trans.__(
          'Run it only if you trust where this package comes from. You will not be asked again for this package.'
        )
      )
    );
    const result = await showDialog({
      title: trans.__('Run without isolation?'),
      body: new Widget({ node: body }),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Run anyway') })
      ],
      defaultButton: 0
    });
    return result.button.accept;
  };
}

/**
 * The user's side of each exposure (the server's `EXPOSURE_SENTENCES` are for the API and the
 * CLI); literal strings, so that translations can find them.
 */
function exposureText(exposure: Exposure, trans: TranslationBundle): string {
  switch (exposure) {
    case 'files':
      return trans.__(
        'read, change and delete every file your account can reach, outside the experiment too'
      );
    case 'network':
      return trans.__(
        'connect to the network, including services on this machine such as JupyterLab'
      );
    case 'processes':
      return trans.__(
        'see your other programs, and read or signal those it has the rights to'
      );
  }
}
