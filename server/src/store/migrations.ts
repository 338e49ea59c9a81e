/**
 * The records' schema, as the list of steps that built it: step N (1-based) brings a database
 * from `PRAGMA user_version` N-1 to N. Never edit a released step; append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE packages (
    sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    -- The PackageModel, as JSON.
    model TEXT NOT NULL,
    -- 'blob': the package is in the blob store under its sha256; 'workspace': it was registered
    -- from a file of the workspace (source_path, relative to it), which may change or vanish.
    source_kind TEXT NOT NULL CHECK (source_kind IN ('blob', 'workspace')),
    source_path TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX packages_created ON packages (created_at);

  CREATE TABLE runs (
    -- Creation order: ties of created_at (same millisecond) still page and queue in order.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    package_sha256 TEXT NOT NULL REFERENCES packages (sha256),
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    -- RunEdits and RunLimits, as JSON.
    edits TEXT NOT NULL,
    limits TEXT NOT NULL,
    backend TEXT,
    image TEXT,
    failed_step INTEGER,
    reason TEXT,
    container_id TEXT,
    log_size INTEGER NOT NULL DEFAULT 0,
    -- Projections of the event log kept for listings (RunStep[], MissingOutput[]), as JSON.
    steps TEXT NOT NULL DEFAULT '[]',
    missing_outputs TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX runs_package ON runs (package_sha256, seq);
  CREATE INDEX runs_status ON runs (status, seq);

  -- A row is inserted only once its blob is fully stored.
  CREATE TABLE run_outputs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('declared', 'changed')),
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    PRIMARY KEY (run_id, kind, name)
  );
  CREATE INDEX run_outputs_sha256 ON run_outputs (sha256);

  CREATE TABLE run_inputs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    size INTEGER NOT NULL,
    PRIMARY KEY (run_id, name)
  );
  CREATE INDEX run_inputs_sha256 ON run_inputs (sha256);
  `,
  `
  -- The registry digest of each package's image, as pushed (or first pulled): later pulls ask
  -- for exactly these bytes, never for whatever the tag points at by then.
  CREATE TABLE image_digests (
    registry TEXT NOT NULL,
    package_sha256 TEXT NOT NULL CHECK (length(package_sha256) = 64),
    digest TEXT NOT NULL CHECK (digest GLOB 'sha256:*' AND length(digest) = 71),
    PRIMARY KEY (registry, package_sha256)
  );
  `,
  `
  -- Sweeps: sets of runs of one package (src/sweeps). A sweep's status is derived from its runs,
  -- so a restarted server recovers it by recovering the runs; only the cancel is its own.
  CREATE TABLE sweeps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    package_sha256 TEXT NOT NULL REFERENCES packages (sha256),
    -- The SweepSpec as created (globs resolved into files), as JSON.
    spec TEXT NOT NULL,
    combine TEXT NOT NULL CHECK (combine IN ('grid', 'zip')),
    variants INTEGER NOT NULL,
    backend TEXT,
    created_at INTEGER NOT NULL,
    cancelled_at INTEGER
  );
  CREATE INDEX sweeps_package ON sweeps (package_sha256, seq);

  -- One row per variant, inserted with its run in the same transaction. A deleted run leaves
  -- the row (its values) with no run.
  CREATE TABLE sweep_runs (
    sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    variant TEXT NOT NULL,
    position INTEGER NOT NULL,
    run_id TEXT UNIQUE REFERENCES runs (id) ON DELETE SET NULL,
    -- The value of each axis, in axis order: a JSON array of strings.
    axis_values TEXT NOT NULL,
    PRIMARY KEY (sweep_id, position)
  );
  `,
  `
  -- Metrics (src/metrics): each package's remembered list, and each run's values. A value is
  -- kept under the key of the spec that extracted it, so a changed spec never shows a stale one.
  CREATE TABLE package_metrics (
    package_sha256 TEXT PRIMARY KEY REFERENCES packages (sha256) ON DELETE CASCADE,
    -- The MetricSpec[], as JSON.
    specs TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE run_metrics (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- sha256 (16 hex digits) of the spec's JSON with sorted keys.
    spec_key TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Null: the run did not produce it (or not as a number).
    value REAL,
    PRIMARY KEY (run_id, spec_key)
  );
  `,
  `
  -- 5. Determinism checks (service/determinism.ts): a package run unmodified twice, on one
  -- backend or two, remembered per package and backend(s). The result is written once both runs
  -- have ended; a deleted run leaves the check without it.
  CREATE TABLE determinism_checks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    package_sha256 TEXT NOT NULL REFERENCES packages (sha256),
    -- The backend of each run, joined by '+' ('sandbox+sandbox', 'docker+sandbox').
    backends TEXT NOT NULL,
    run_a TEXT REFERENCES runs (id) ON DELETE SET NULL,
    run_b TEXT REFERENCES runs (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    -- Once decided: {state, varying, outputs, reason}, as JSON.
    result TEXT
  );
  CREATE INDEX determinism_package ON determinism_checks (package_sha256, backends, seq);
  `,
  `
  -- 6. Owners (a server shared by several users, users/registry.ts): the user whose token created a
  -- run, sweep or determinism check; null on a single-user server and for what was made before.
  -- Packages, images and trees stay shared.
  ALTER TABLE runs ADD COLUMN owner TEXT;
  ALTER TABLE sweeps ADD COLUMN owner TEXT;
  ALTER TABLE determinism_checks ADD COLUMN owner TEXT;
  CREATE INDEX runs_owner ON runs (owner, seq);
  CREATE INDEX sweeps_owner ON sweeps (owner, seq);
  `
];
