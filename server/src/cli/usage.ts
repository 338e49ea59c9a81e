/**
 * What each `reproserver` command accepts and its usage text, apart from the commands themselves:
 * `main.ts` parses and answers `--help` with these before loading a command's (heavy) module.
 */
import type { CommandSpec, OptionSpec } from './args';

const value: OptionSpec = { type: 'string' };
const repeated: OptionSpec = { type: 'string', multiple: true };
const flag: OptionSpec = { type: 'boolean' };

export const BUILD_USAGE = `Usage: reproserver build PACKAGE [options]

Builds the Docker image of a ReproZip package (or finds it in the engine or the registry) and
prints its reference.

Options:
  --registry HOST:PORT   Registry that caches images (default: $REGISTRY).
  --no-registry          Use no registry: build locally, push nothing.
  --repository NAME      Image repository (default: reproserver/rpz).
  --base-image IMAGE     Build on this image; needed when the package left out package files.
  --docker-socket PATH   Docker Engine socket (default: $DOCKER_SOCKET, $DOCKER_HOST, then
                         /var/run/docker.sock).
  --json                 Events as JSON lines on stderr, the result as JSON on stdout.`;

export const INSPECT_USAGE = `Usage: reproserver inspect PACKAGE [--json] [--no-cache]
--no-cache: read the package again and remember nothing (an unchanged package is otherwise
                answered from what was read before, kept in $REPROSERVER_CACHE_DIR, else
                $XDG_CACHE_HOME/reproserver, else ~/.cache/reproserver).`;

export const RUN_USAGE = `reproserver run PACKAGE --out DIR [--steps 0,1] [--cmdline STEP='command line']
                [--arg STEP:INDEX=VALUE] [--env STEP:NAME=VALUE] [--unset-env STEP:NAME]
                [--input NAME=PATH] [--timeout SECONDS] [--memory MIB] [--disk MIB]
                [--backend auto|docker|sandbox|slurm] [--allow-weak-isolation]
                [--image REF] [--docker-socket PATH] [--registry HOST:PORT] [--state DIR]
                [--read-timeout-seconds N] [--read-memory-mib N] [--read-stall-seconds N]
--cmdline, --arg, --env, --unset-env and --input may be given several times.
PACKAGE may be a run file (.rpzrun): its package and edits, with the flags on top; a run file
                that lists open fields refuses flags that change any other.
--allow-weak-isolation: run even where the sandbox isolates less than your files and the
                network (proot without Landlock and seccomp); without it, such a run is refused.
--backend slurm: a batch job on the Slurm cluster whose shared folder REPROSERVER_SLURM_SHARED
                names (docs/cluster.md); never chosen by auto.
--state DIR: the state folder, where the sandbox keeps unpacked packages (default
                $REPROSERVER_STATE_DIR, else ~/.local/state/reproserver). Given, the run is also
                recorded there (records, outputs, log) as \`reproserver serve --state DIR\` records
                its runs; without it, in a private temporary folder removed when the command ends.`;

export const SWEEP_USAGE = `reproserver sweep PACKAGE --out DIR [--arg STEP:INDEX=VALUES] [--env STEP:NAME=VALUES]
                [--input NAME=GLOB|FILE,FILE] [--cmdline STEP=VALUES] [--zip] [--steps 0,1]
                [--unset-env STEP:NAME] [--timeout SECONDS] [--memory MIB] [--disk MIB]
                [--max-concurrent-runs N] [--backend auto|docker|sandbox|slurm]
                [--allow-weak-isolation] [--image REF] [--docker-socket PATH]
                [--registry HOST:PORT] [--state DIR] [--read-timeout-seconds N]
                [--read-memory-mib N] [--read-stall-seconds N]
                [--metric NAME=SOURCE…]
Runs the package once per variant: every combination of the values (a grid), or with --zip the
i-th value of every field together. Writes DIR/<variant>/ as \`reproserver run --out\` does, and
DIR/sweep.csv (variant, each field's value, status, exit code, duration, each metric).
VALUES: a comma-separated list (\\, is a comma inside a value), or one range START:STOP[:STEP] of
                numbers, stop included (1:10, 0:1:0.25, 10:1:-3).
--input NAME=: a glob (quoted), a folder (its files), or a comma-separated list of files.
--metric: a number to extract from each run, a column of sweep.csv (repeatable); without it,
                the package's remembered metrics (kept in --state DIR, which --metric replaces):
                NAME=log[:KEY]         the KEY=value (or KEY: value) pair in the log (KEY: NAME)
                NAME=regex:PATTERN     a regular expression over log lines (its first group)
                NAME=csv:OUTPUT:COLUMN[:ROW|:REDUCER]  a cell (ROW 0-based, -1 the last) or the
                                       column reduced (last first mean min max sum count)
                NAME=json:OUTPUT:PATH  a number at a path of a JSON output (stats.n, runs[0].y)
                OUTPUT: an output's name in the package, or its path in the run; log-first and
                regex-first take the first match instead of the last. Not a number: empty cell.
At most 8 fields, 10,000 values per field and 10,000 runs. --state DIR as for \`reproserver run\`.
--backend slurm: the runs go to the cluster as one job array, --max-concurrent-runs tasks at once
                (docs/cluster.md).`;

export const DIFF_USAGE = `reproserver diff RUN_A RUN_B [--state DIR] [--tolerance N] [--relative-tolerance N]
       reproserver diff DIR_A DIR_B [--tolerance N] [--relative-tolerance N]
Compares two runs: by their ids in a state folder (\`reproserver run --state DIR\` records them
there; their run.json says the id), or two output folders as \`run --out\` and \`sweep --out\`
write them. Prints the edits that separate the runs, each output identical or changed, their
diffs (text and SVG as a unified diff, CSV as changed cells, PNG as a pixel count) and, for runs,
the logs' diff. Exit code 0 when every output is the same (a CSV whose numbers changed only
within --tolerance (absolute) or --relative-tolerance counts as the same), 1 when some differ,
2 on bad usage.`;

export const CHECK_DETERMINISM_USAGE = `reproserver check-determinism PACKAGE [--backend auto|docker|sandbox]
                [--backends docker,sandbox] [--allow-weak-isolation] [--image REF]
                [--docker-socket PATH] [--registry HOST:PORT] [--state DIR]
Runs the package unmodified twice (on one backend, or once on each of --backends) and says which
outputs vary between the two identical runs, with their diffs. --state DIR remembers the check
there, per package and backend, as the server does. Exit code 0 when every output is identical,
1 when some vary, 2 on bad usage, 3 when a run did not succeed.`;

export const SERVE_USAGE = `reproserver serve [--host 127.0.0.1] [--port N] [--workspace DIR] [--state DIR]
                  [--token-from F] [--token-file F] [--docker-socket PATH] [--registry HOST:PORT]
                  [--storage fs|s3] [--max-concurrent-runs N] [--max-upload-mib N]
                  [--runs-per-minute N] [--read-timeout-seconds N] [--read-memory-mib N]
                  [--read-processes N] [--read-stall-seconds N] [--weak-isolation ask|refuse]
                  [--users-file F] [--user-runs-per-minute N] [--user-max-running N]
                  [--user-max-queued N]
--token-from F: read the token from the private file F (mode 0600), then delete F.
--users-file F: a server shared by several users (see "reproserver users"): each user's token
                instead of one, each user's runs their own; per user, N starts a minute (30),
                N runs at once (2) and N runs not ended (1000).
Environment: REPROSERVER_HOST, REPROSERVER_PORT, REPROSERVER_WORKSPACE, REPROSERVER_STATE_DIR,
             REPROSERVER_TOKEN_FROM, REPROSERVER_TOKEN (removed from the environment at start),
             REPROSERVER_TOKEN_FILE, REPROSERVER_WEAK_ISOLATION, DOCKER_SOCKET or DOCKER_HOST, REGISTRY,
             REPROSERVER_BLOB_STORE and REPROSERVER_S3_{BUCKET,PREFIX,ENDPOINT,REGION,FORCE_PATH_STYLE},
             REPROSERVER_MAX_CONCURRENT_RUNS, REPROSERVER_MAX_UPLOAD_MIB, REPROSERVER_RUNS_PER_MINUTE,
             REPROSERVER_READ_TIMEOUT_SECONDS, REPROSERVER_READ_MEMORY_MIB, REPROSERVER_READ_PROCESSES,
             REPROSERVER_READ_STALL_SECONDS, REPROSERVER_READ_LIMITS, REPROSERVER_SANDBOX,
             REPROSERVER_SANDBOX_UID, REPROSERVER_SANDBOX_RUNS_DIR, REPROSERVER_OPEN_FILES,
             REPROSERVER_USERS_FILE, REPROSERVER_USER_RUNS_PER_MINUTE, REPROSERVER_USER_MAX_RUNNING,
             REPROSERVER_USER_MAX_QUEUED.`;

export const BUILD_SPEC: CommandSpec = {
  name: 'build',
  usage: BUILD_USAGE,
  options: {
    registry: value,
    'no-registry': flag,
    repository: value,
    'base-image': value,
    'docker-socket': value,
    json: flag
  }
};

export const INSPECT_SPEC: CommandSpec = {
  name: 'inspect',
  usage: INSPECT_USAGE,
  options: { json: flag, 'no-cache': flag }
};

/** The reader's limits, which `run` reads the package with too (through `loadConfig`). */
const READ_LIMIT_OPTIONS = {
  'read-timeout-seconds': value,
  'read-memory-mib': value,
  'read-stall-seconds': value
};

/**
 * What `run` and `sweep` both take: where the outputs go, the edits (a sweep's axes are given
 * with the same flags), the limits, and where and how the runs execute.
 */
const RUN_OPTIONS = {
  out: value,
  steps: value,
  cmdline: repeated,
  arg: repeated,
  env: repeated,
  'unset-env': repeated,
  input: repeated,
  timeout: value,
  memory: value,
  disk: value,
  backend: value,
  'allow-weak-isolation': flag,
  image: value,
  'docker-socket': value,
  registry: value,
  state: value,
  ...READ_LIMIT_OPTIONS
};

export const RUN_SPEC: CommandSpec = {
  name: 'run',
  usage: `Usage: ${RUN_USAGE}`,
  options: RUN_OPTIONS
};

export const SWEEP_SPEC: CommandSpec = {
  name: 'sweep',
  usage: `Usage: ${SWEEP_USAGE}`,
  options: {
    ...RUN_OPTIONS,
    zip: flag,
    'max-concurrent-runs': value,
    metric: repeated
  }
};

export const DIFF_SPEC: CommandSpec = {
  name: 'diff',
  usage: `Usage: ${DIFF_USAGE}`,
  options: { state: value, tolerance: value, 'relative-tolerance': value }
};

export const CHECK_DETERMINISM_SPEC: CommandSpec = {
  name: 'check-determinism',
  usage: `Usage: ${CHECK_DETERMINISM_USAGE}`,
  options: {
    backend: value,
    backends: value,
    'allow-weak-isolation': flag,
    image: value,
    'docker-socket': value,
    registry: value,
    state: value,
    ...READ_LIMIT_OPTIONS
  }
};

export const SERVE_SPEC: CommandSpec = {
  name: 'serve',
  usage: `Usage: ${SERVE_USAGE}`,
  options: {
    host: value,
    port: value,
    workspace: value,
    state: value,
    'token-from': value,
    'token-file': value,
    'docker-socket': value,
    registry: value,
    storage: value,
    'max-concurrent-runs': value,
    'max-upload-mib': value,
    'runs-per-minute': value,
    'read-processes': value,
    'weak-isolation': value,
    'users-file': value,
    'user-runs-per-minute': value,
    'user-max-running': value,
    'user-max-queued': value,
    ...READ_LIMIT_OPTIONS
  }
};

export const FETCH_USAGE = `Usage: reproserver fetch URL|DOI [--to DIR] [--file NAME] [--json]

Downloads a ReproZip package into DIR (default: the current folder) from a DOI (10.5281/zenodo.123,
doi:…, https://doi.org/…), a Zenodo, OSF, Figshare or Dataverse record, or the https URL of an .rpz
file, checks that it is a package, and prints its path and sha256. An interrupted download is
resumed where the server allows it; on a terminal, a progress line shows on stderr.

Options:
  --to DIR      Folder to download into (made if missing).
  --file NAME   The package to take when the record holds several (they are listed otherwise).
  --json        The result as JSON on stdout.

Environment: REPROSERVER_MAX_UPLOAD_MIB (largest download), REPROSERVER_FETCH_CONNECT_TIMEOUT_SECONDS,
             REPROSERVER_FETCH_IDLE_TIMEOUT_SECONDS, and the services' base URLs
             REPROSERVER_{DOI_RESOLVER,ZENODO,OSF,OSF_API,FIGSHARE,FIGSHARE_API}_URL.`;

export const FETCH_SPEC: CommandSpec = {
  name: 'fetch',
  usage: FETCH_USAGE,
  options: { to: value, file: value, json: flag }
};

export const PREPARE_USAGE = `Usage: reproserver prepare DIR [--trees FOLDER] [--images] [options]

Prepares every package (.rpz) under DIR for a class, once: a JupyterHub's users then unpack and
build nothing.

Options:
  --trees FOLDER          Unpack each package's sandbox tree into FOLDER/<sha256>/, readable by
                          everyone, setuid and setgid bits removed. Mount FOLDER read-only for your
                          users and set REPROSERVER_SHARED_TREES=FOLDER for their servers.
  --images                Build each package's image and push it to the registry.
  --registry HOST:PORT    Registry for --images (default: $REGISTRY).
  --no-registry           Build the images locally, push nothing.
  --docker-socket PATH    The Docker (or Podman) socket for --images.
  --state DIR             State folder for the readers' scratch files.`;

export const PREPARE_SPEC: CommandSpec = {
  name: 'prepare',
  usage: PREPARE_USAGE,
  options: {
    trees: value,
    images: flag,
    registry: value,
    'no-registry': flag,
    'docker-socket': value,
    state: value
  }
};

export const USERS_USAGE = `Usage: reproserver users add NAME [--file F]
       reproserver users remove NAME [--file F]
       reproserver users list [--file F]

The users of a server shared by several users (reproserver serve --users-file F). "add" makes a
random token for NAME, keeps only its sha256 in F (one NAME:SHA256 a line, mode 0600) and prints
the token once, on stdout: hand it to that user's JupyterLab (README, "A server shared by several
users"); adding a NAME again gives it a new token. "remove" takes NAME out; "list" prints the
names. A running server reads F again when it changes.

Options:
  --file F   The users file (default: $REPROSERVER_USERS_FILE).`;

export const USERS_SPEC: CommandSpec = {
  name: 'users',
  usage: USERS_USAGE,
  options: { file: value }
};

export const SPECS: Record<string, CommandSpec> = {
  prepare: PREPARE_SPEC,
  build: BUILD_SPEC,
  fetch: FETCH_SPEC,
  inspect: INSPECT_SPEC,
  run: RUN_SPEC,
  serve: SERVE_SPEC,
  sweep: SWEEP_SPEC,
  diff: DIFF_SPEC,
  'check-determinism': CHECK_DETERMINISM_SPEC,
  users: USERS_SPEC
};

export const USAGE = `Usage: reproserver <command> [options]

Commands:
  build PACKAGE              Build (or find) the package's image; prints its reference.
  fetch URL|DOI [--to DIR]   Download a package from a DOI, a data repository or a URL.
  inspect PACKAGE [--json]   Describe a ReproZip package: runs, inputs, outputs, warnings.
  run PACKAGE --out DIR …    Run a package with changed arguments, environment or inputs.
  serve [options]            Run the companion server of the JupyterLab extension.
  sweep PACKAGE --out DIR …  Run a package once per combination of values of some fields.
  diff A B                   Compare two runs (ids with --state, or output folders).
  check-determinism PACKAGE  Run a package twice unmodified; say which outputs vary.
  prepare DIR --trees F      Unpack (and build) a folder of packages once, for a class.
  users add|remove|list …    The users and tokens of a server shared by several users.

  ${BUILD_USAGE.replace(/\n/g, '\n  ')}

  ${RUN_USAGE.replace(/\n/g, '\n  ')}

  ${SERVE_USAGE.replace(/\n/g, '\n  ')}

reproserver --version prints the version; reproserver COMMAND --help, a command's usage.`;
