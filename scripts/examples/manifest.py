"""Helper of scripts/make-examples.sh: checks a packed example against the
recipe's expected.json and writes the manifest <name>.json beside the package.

Needs PyYAML (make-examples.sh runs it with the Python that runs reprozip).

Subcommands:
  finalize EXPECTED RPZ LOGDIR RECIPE_SHA OUT_JSON
  count-variants EXPECTED
  variant-run EXPECTED VARIANT RUN     NUL-separated: K=V... "--" ARGV...
  apply-inputs EXPECTED VARIANT        write the variant's replacement inputs
  check-variant EXPECTED VARIANT LOGDIR
  recipe-sha MANIFEST_JSON

expected.json (schema "reproserver-example/1"):
  name, description
  runs[]:            id, argv, workingdir, exitcode, binary (optional),
                     environ (optional, a subset that must be recorded),
                     nonroot (optional, true: traced as a non-root user),
                     stdout (list of lines the run prints)
  inputs_outputs[]:  exactly the packed config's list: name, path,
                     read_by_runs, written_by_runs
  inputs:            {io name: {text, sha256}}  contents stored in the package
  outputs:           {io name: {text, sha256}}  contents after a re-run as recorded
  links (optional):  {symlinks: {path: target}, hardlinks: [[path, ...]]}
                     checked to be stored as such in DATA
  duration_seconds (optional, in runs[] and variant runs[]): about how long
                     the run takes (informational)
  varying_outputs (optional): names of outputs whose bytes differ between
                     identical runs (not checked here; the determinism check's
                     tests expect exactly these to vary)
  variants[]:        id, description,
                     runs[]: {run, argv?, environ?, stdout?} overrides per run
                             (environ is added to the recorded one; stdout of a
                             run not listed is the recorded run's stdout)
                     inputs: {io name: {text}}  replacement inputs to upload
                     outputs: {io name: {text, sha256}}
The manifest written next to the package is expected.json plus "sha256" for
every text and a "package" object with facts read from the package.
"""
import hashlib
import io
import json
import os
import re
import sys
import tarfile

import yaml


def load(path):
    with open(path, encoding='utf-8') as fp:
        return json.load(fp)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def io_paths(expected):
    return {entry['name']: entry['path'] for entry in expected['inputs_outputs']}


def check_content(errors, what, spec, data):
    if data is None:
        errors.append('%s: missing' % what)
        return
    if 'text' in spec and data != spec['text'].encode('utf-8'):
        errors.append('%s: content is %r, expected %r'
                      % (what, data.decode('utf-8', 'replace'), spec['text']))
    if 'sha256' in spec and sha256(data) != spec['sha256']:
        errors.append('%s: sha256 is %s, expected %s'
                      % (what, sha256(data), spec['sha256']))


def read_file(path):
    try:
        with open(path, 'rb') as fp:
            return fp.read()
    except OSError:
        return None


def read_stdout(logdir, k):
    data = read_file(os.path.join(logdir, 'run%d.out' % k))
    if data is None:
        return None
    return data.decode('utf-8', 'replace').splitlines()


def add_hashes(specs):
    for spec in specs.values():
        if 'text' in spec:
            spec.setdefault('sha256', sha256(spec['text'].encode('utf-8')))


def read_package(rpz):
    """Returns (version line, config.yml text, {DATA path: bytes} reader)."""
    outer = tarfile.open(rpz, 'r:*')
    version = outer.extractfile('METADATA/version').read().decode().strip()
    config = outer.extractfile('METADATA/config.yml').read().decode('utf-8')
    data = tarfile.open(fileobj=io.BytesIO(outer.extractfile('DATA.tar.gz').read()),
                        mode='r:gz')

    def member(path):
        name = 'DATA' + path
        seen = set()
        while name not in seen:
            seen.add(name)
            try:
                info = data.getmember(name)
            except KeyError:
                return None
            if info.islnk():
                name = info.linkname
                continue
            if not info.isfile():
                return None
            return data.extractfile(info).read()
        return None

    return version, config, member, data


def finalize(expected_path, rpz, logdir, recipe_sha, out_path):
    expected = load(expected_path)
    errors = []
    version, config_text, member, data = read_package(rpz)
    data_names = data.getnames()
    config = yaml.safe_load(config_text)
    if version != 'REPROZIP VERSION 2':
        errors.append('METADATA/version is %r' % version)

    runs = config.get('runs') or []
    if len(runs) != len(expected['runs']):
        errors.append('%d runs recorded, expected %d' % (len(runs), len(expected['runs'])))
    for k, (run, exp) in enumerate(zip(runs, expected['runs'])):
        where = 'run %d' % k
        for key in ('id', 'argv', 'workingdir', 'binary'):
            if key in exp and run.get(key) != exp[key]:
                errors.append('%s: %s is %r, expected %r' % (where, key, run.get(key), exp[key]))
        if 'exitcode' in exp and run.get('exitcode') != exp['exitcode']:
            errors.append('%s: exit code %r (signal %r), expected %r'
                          % (where, run.get('exitcode'), run.get('signal'), exp['exitcode']))
        for key, value in (exp.get('environ') or {}).items():
            if run.get('environ', {}).get(key) != value:
                errors.append('%s: environ[%s] is %r, expected %r'
                              % (where, key, run.get('environ', {}).get(key), value))
        if exp.get('nonroot') and run.get('uid') == 0:
            errors.append('%s: traced as root, expected a non-root user' % where)
        if 'stdout' in exp:
            got = read_stdout(logdir, k)
            if got != exp['stdout']:
                errors.append('%s: stdout was %r, expected %r' % (where, got, exp['stdout']))

    def norm(entries):
        return sorted(({'name': str(e['name']), 'path': str(e['path']),
                        'read_by_runs': list(e.get('read_by_runs') or []),
                        'written_by_runs': list(e.get('written_by_runs') or [])}
                       for e in entries), key=lambda e: e['name'])

    got_io = norm(config.get('inputs_outputs') or [])
    if got_io != norm(expected['inputs_outputs']):
        errors.append('inputs_outputs are %s\n  expected %s'
                      % (json.dumps(got_io, ensure_ascii=False),
                         json.dumps(norm(expected['inputs_outputs']), ensure_ascii=False)))

    paths = io_paths(expected)
    for name, spec in (expected.get('inputs') or {}).items():
        check_content(errors, 'input %s in the package' % name, spec, member(paths[name]))
    for name, spec in (expected.get('outputs') or {}).items():
        check_content(errors, 'output %s after the trace' % name, spec, read_file(paths[name]))

    links = expected.get('links') or {}
    for link, target in (links.get('symlinks') or {}).items():
        try:
            info = data.getmember('DATA' + link)
        except KeyError:
            info = None
        if info is None or not info.issym() or info.linkname != target:
            errors.append('symlink %s -> %s is not in the package as such' % (link, target))
    for group in links.get('hardlinks') or []:
        members = {}
        for path in group:
            try:
                members[path] = data.getmember('DATA' + path)
            except KeyError:
                errors.append('hard link %s is not in the package' % path)
        firsts = [p for p, i in members.items() if i.isfile()]
        if len(members) == len(group) and (
                len(firsts) != 1 or any(i.linkname != 'DATA' + firsts[0]
                                        for i in members.values() if not i.isfile())):
            errors.append('%s are not stored as one file and hard links to it' % group)

    if errors:
        for error in errors:
            print('manifest: ' + error, file=sys.stderr)
        return 1

    m = re.search(r'generated by reprozip (\S+)', config_text)
    manifest = dict(expected)
    add_hashes(manifest.get('inputs') or {})
    add_hashes(manifest.get('outputs') or {})
    for variant in manifest.get('variants') or []:
        add_hashes(variant.get('inputs') or {})
        add_hashes(variant.get('outputs') or {})
    manifest['package'] = {
        'file': os.path.basename(out_path).split('.json')[0] + '.rpz',
        'size': os.path.getsize(rpz),
        'recipe_sha256': recipe_sha,
        'reprozip_version': m.group(1) if m else None,
        'config_version': config.get('version'),
        'runs': [{key: run.get(key) for key in
                  ('id', 'binary', 'argv', 'workingdir', 'uid', 'gid', 'exitcode',
                   'signal', 'architecture', 'distribution') if key in run}
                 for run in runs],
        'packages': sorted(p['name'] for p in config.get('packages') or []),
        'data_members': len(data_names),
    }
    with open(out_path, 'w', encoding='utf-8') as fp:
        json.dump(manifest, fp, indent=2, ensure_ascii=False)
        fp.write('\n')
    return 0


def variant(expected, v):
    return (expected.get('variants') or [])[int(v)]


def run_override(expected, v, k):
    for entry in variant(expected, v).get('runs') or []:
        if entry['run'] == int(k):
            return entry
    return {}


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == 'finalize':
        return finalize(*args)
    if cmd == 'recipe-sha':
        print(load(args[0]).get('package', {}).get('recipe_sha256', ''))
        return 0
    expected = load(args[0])
    if cmd == 'count-variants':
        print(len(expected.get('variants') or []))
    elif cmd == 'variant-run':
        over = run_override(expected, args[1], args[2])
        items = ['%s=%s' % kv for kv in (over.get('environ') or {}).items()]
        items += ['--'] + list(over.get('argv') or [])
        sys.stdout.buffer.write(b''.join(i.encode('utf-8') + b'\0' for i in items))
    elif cmd == 'apply-inputs':
        paths = io_paths(expected)
        for name, spec in (variant(expected, args[1]).get('inputs') or {}).items():
            with open(paths[name], 'wb') as fp:
                fp.write(spec['text'].encode('utf-8'))
    elif cmd == 'check-variant':
        var, logdir, errors = variant(expected, args[1]), args[2], []
        for k, run in enumerate(expected['runs']):
            want = run_override(expected, args[1], k).get('stdout', run.get('stdout'))
            got = read_stdout(logdir, k)
            if want is not None and got != want:
                errors.append('run %d: stdout was %r, expected %r' % (k, got, want))
        paths = io_paths(expected)
        for name, spec in (var.get('outputs') or {}).items():
            check_content(errors, 'output %s' % name, spec, read_file(paths[name]))
        for error in errors:
            print('variant %s (%s): %s' % (args[1], var.get('id'), error), file=sys.stderr)
        return 1 if errors else 0
    else:
        print('unknown subcommand %s' % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
