import type { TranslationBundle } from '@jupyterlab/translation';
import { type PackageDetails, joinCommandLine } from 'reproserver/contract';
import { formatBytes, h, table } from './dom';

/** The package at a glance: facts, warnings, steps, files and provenance. */
export function renderOverview(
  details: PackageDetails,
  trans: TranslationBundle
): HTMLElement {
  const model = details.model;
  const first = model.runs[0];
  const distribution = first?.distribution
    ? `${first.distribution.name} ${first.distribution.version}`.trim()
    : trans.__('unknown');
  const facts: [string, string][] = [
    [trans.__('Package'), details.name],
    [trans.__('Size'), formatBytes(details.size, trans)],
    [
      trans.__('Format'),
      trans.__(
        'ReproZip v%1 (%2), config %3',
        model.format,
        model.container,
        model.configVersion ?? '?'
      )
    ],
    [trans.__('Distribution'), distribution],
    [trans.__('Architecture'), first?.architecture ?? trans.__('unknown')],
    [trans.__('Files'), String(model.data.listedPaths)],
    [trans.__('Software packages'), String(model.packages.length)]
  ];
  const root = h('div', { class: 'jp-ReproServer-overview' });
  root.append(
    h(
      'dl',
      { class: 'jp-ReproServer-facts' },
      ...facts.reduce<HTMLElement[]>(
        (all, [k, v]) => [...all, h('dt', {}, k), h('dd', {}, v)],
        []
      )
    )
  );
  if (model.warnings.length > 0) {
    root.append(
      h(
        'div',
        { class: 'jp-ReproServer-warnings', role: 'note' },
        h('strong', {}, trans.__('Warnings from the package reader')),
        h('ul', {}, ...model.warnings.map(w => h('li', {}, w)))
      )
    );
  }

  root.append(h('h3', {}, trans.__('Steps')));
  root.append(
    h(
      'ol',
      { class: 'jp-ReproServer-steps', start: 0 },
      ...model.runs.map(run =>
        h(
          'li',
          { class: 'jp-ReproServer-step' },
          h('span', { class: 'jp-ReproServer-stepId' }, run.id),
          h(
            'code',
            { class: 'jp-ReproServer-cmdline' },
            joinCommandLine(run.argv)
          ),
          h(
            'div',
            { class: 'jp-ReproServer-muted' },
            trans.__('in %1 as user %2:%3', run.workingdir, run.uid, run.gid),
            run.exitcode !== null
              ? ' · ' + trans.__('recorded exit code %1', run.exitcode)
              : ''
          )
        )
      )
    )
  );

  const stepName = (i: number) => model.runs[i]?.id ?? String(i);
  const fileTable = (title: string, files: typeof model.files) =>
    files.length === 0
      ? null
      : h(
          'section',
          {},
          h('h3', {}, title),
          table(
            [trans.__('Name'), trans.__('Path'), trans.__('Steps')],
            files.map(f =>
              h(
                'tr',
                {},
                h('td', {}, f.name),
                h('td', {}, h('code', {}, f.path)),
                h(
                  'td',
                  {},
                  [...new Set([...f.readBy, ...f.writtenBy])]
                    .map(stepName)
                    .join(', ')
                )
              )
            )
          )
        );
  root.append(
    fileTable(
      trans.__('Input files'),
      model.files.filter(f => f.readBy.length > 0)
    ) ?? '',
    fileTable(
      trans.__('Output files'),
      model.files.filter(f => f.writtenBy.length > 0)
    ) ?? ''
  );

  root.append(h('h3', {}, trans.__('Provenance')));
  const trace = model.trace;
  if (trace.status === 'ok') {
    root.append(
      h(
        'ul',
        { class: 'jp-ReproServer-provenance' },
        ...trace.runs.map(t =>
          h(
            'li',
            {},
            h('strong', {}, stepName(t.run)),
            ' ',
            [
              trans._n('%1 process', '%1 processes', t.processes),
              trans._n('%1 program', '%1 programs', t.programs.length),
              trans._n('%1 file read', '%1 files read', t.filesRead.length),
              trans._n(
                '%1 file written',
                '%1 files written',
                t.filesWritten.length
              )
            ].join(trans.__(', ')),
            h(
              'details',
              {},
              h('summary', {}, trans.__('Details')),
              list(trans.__('Programs (%1)', t.programs.length), t.programs),
              list(trans.__('Read (%1)', t.filesRead.length), t.filesRead),
              list(
                trans.__('Written (%1)', t.filesWritten.length),
                t.filesWritten
              )
            )
          )
        )
      )
    );
  } else {
    root.append(
      h(
        'p',
        { class: 'jp-ReproServer-muted' },
        trace.status === 'absent'
          ? trans.__('The package has no trace database.')
          : trans.__('The trace cannot be read: %1', trace.reason)
      )
    );
  }
  return root;
}

/** A titled list; the title, already translated, says how many items there are. */
function list(title: string, items: string[]): HTMLElement {
  return h(
    'div',
    { class: 'jp-ReproServer-traceList' },
    h('em', {}, title),
    h('ul', {}, ...items.slice(0, 200).map(i => h('li', {}, h('code', {}, i))))
  );
}
