/** `GET /api/backends`: which backends run experiments here, and what each isolates. */
import { Type, type Static } from '@sinclair/typebox';
import type { WeakIsolationPolicy } from '../../backends/exposure';
import type { LimitEnforcement } from '../../backends/isolation-facts';
import { RunLimitsSchema } from './edits';
import { described, named, nullable, oneOf, type Same } from './common';

export const BackendNameSchema = oneOf(['docker', 'sandbox', 'slurm'] as const);
export type BackendName = Static<typeof BackendNameSchema>;

/** Where the capabilities of a step recorded as root take effect. */
export const CapabilityScopeSchema = oneOf(
  ['container', 'user-namespace', 'host'] as const,
  {
    description:
      'Where a root step’s capabilities take effect: its container (Docker: a reduced set, nothing that reaches the host); its own user namespace (bubblewrap: valid on what the namespace owns, never on the host); the host (proot: the server’s own capabilities, unchanged).'
  }
);
export type CapabilityScope = Static<typeof CapabilityScopeSchema>;

export const LimitEnforcementSchema = named(
  'LimitEnforcement',
  oneOf(['cgroup', 'rlimit', 'polling', 'none'] as const, {
    description:
      'How a limit is enforced: a cgroup, an rlimit, a periodic measurement, or not at all.'
  })
);

export const WeakIsolationPolicySchema = oneOf(['ask', 'refuse'] as const, {
  description:
    'Runs on a backend that isolates less than files + network (`needsConsent` in `backends/exposure.ts`): started when the request accepts it (`ask`), or never (`refuse`).'
});

export const ConfinementSchema = named(
  'Confinement',
  Type.Object(
    {
      landlockAbi: nullable(Type.Integer({ minimum: 1 }), {
        description:
          'The Landlock ABI in force: files are read only from the run’s root and a few system paths, written only in the run’s own tree; from ABI 4 no TCP at all; from ABI 6 no signals or abstract unix sockets outside the run. Null: none.'
      }),
      seccomp: Type.Boolean({
        description:
          'The seccomp filter: no socket but AF_UNIX (no UDP, TCP, raw, netlink), no ptrace, keyring, mounts, new namespaces, io_uring, bpf, perf events.'
      }),
      processSecrets: Type.Boolean({
        description:
          'Other processes’ environments, memory and open files (/proc/PID/…) are out of reach.'
      }),
      signals: Type.Boolean({
        description: 'Signals to processes outside the run are refused.'
      })
    },
    {
      description:
        'What the helper’s confinement of a step holds on this machine (`backends/sandbox/confine.ts`).'
    }
  )
);
export type Confinement = Static<typeof ConfinementSchema>;

export const BackendIsolationSchema = named(
  'BackendIsolation',
  Type.Object(
    {
      files: Type.Boolean({
        description:
          'The experiment can neither read nor write host files outside its run’s tree.'
      }),
      network: Type.Boolean({
        description:
          'No network at all: no TCP or UDP to the host’s loopback or anywhere else.'
      }),
      processes: Type.Boolean({
        description:
          'Host processes are invisible and cannot be signalled; their environment (tokens) unreadable.'
      }),
      nestedUserNamespaces: Type.Boolean({
        description:
          'Whether the experiment may create nested user namespaces (the backend does not prevent it).'
      }),
      capabilities: Type.Object({
        scope: CapabilityScopeSchema,
        root: Type.Array(Type.String(), {
          description:
            'Effective capabilities of a step recorded as root: names without `CAP_`, sorted.'
        }),
        nonRoot: Type.Array(Type.String(), {
          description:
            'Effective capabilities of a step recorded as a non-root user; [] when it has none.'
        })
      }),
      hostUser: Type.Optional(
        oneOf(['server', 'unprivileged'] as const, {
          description:
            'Who the experiment is on the host where its files or processes are not isolated (proot): `server`, the server’s own user (it reaches that user’s files, processes and their environments, with the server’s capabilities); `unprivileged`, a user id of the run’s own that owns nothing and has no capabilities. Absent where files and processes are isolated.'
        })
      ),
      confinement: Type.Optional(
        nullable(ConfinementSchema, {
          description:
            'The confinement each step runs under, applied by the helper before the step’s first instruction (no-new-privileges, Landlock, seccomp), as the sandbox’s probe found it from inside at start; null or absent where there is none (Docker, or `REPROSERVER_CONFINE=off`).'
        })
      ),
      memory: LimitEnforcementSchema,
      cpu: LimitEnforcementSchema,
      disk: LimitEnforcementSchema
    },
    {
      description:
        'What a backend isolates, stated from what was found at start and checked by the isolation probe’s tests: what an experiment can reach is exactly what this does not isolate.'
    }
  )
);
export type BackendIsolation = Static<typeof BackendIsolationSchema>;

export const ContainerEngineSchema = named(
  'ContainerEngine',
  Type.Object(
    {
      name: oneOf(['docker', 'podman'] as const, {
        description:
          'Which engine answers the Docker API: Docker Engine, or Podman through its Docker-compatible API.'
      }),
      version: Type.String({ description: 'The engine’s own version.' }),
      rootless: Type.Boolean({
        description: 'Whether the engine runs as an unprivileged user.'
      }),
      description: Type.String({
        description:
          'For people: "Podman 4.3.1 (rootless)", "Docker Engine 20.10.24".'
      })
    },
    {
      description:
        'The engine behind the `docker` backend, as it named itself (`GET /version`).'
    }
  )
);
export type ContainerEngine = Static<typeof ContainerEngineSchema>;

export const BackendStatusSchema = named(
  'BackendStatus',
  Type.Object(
    {
      name: BackendNameSchema,
      available: Type.Boolean(),
      detail: Type.String({
        description:
          'Why it is unavailable, or what it runs on, as a sentence for people.'
      }),
      isolation: nullable(BackendIsolationSchema, {
        description: 'What it isolates; null when it is unavailable.'
      }),
      engine: Type.Optional(
        nullable(ContainerEngineSchema, {
          description:
            'The `docker` backend’s engine when it answered; null when it could not be told; absent for the sandbox and from servers older than this field.'
        })
      )
    },
    { description: 'One execution backend and whether it works on this host.' }
  )
);
export type BackendStatus = Static<typeof BackendStatusSchema>;

export const BackendsResponseSchema = named(
  'BackendsResponse',
  Type.Object({
    backends: Type.Array(BackendStatusSchema),
    default: nullable(BackendNameSchema, {
      description:
        'What `auto` picks now; null when nothing can run experiments here.'
    }),
    weakIsolation: WeakIsolationPolicySchema,
    defaultLimits: Type.Optional(
      described(
        RunLimitsSchema,
        'What a run gets for each limit its edits leave out, on this machine: the memory limit leaves room for JupyterLab and the server (`runs/default-limits.ts`). Absent from servers older than this field.'
      )
    )
  })
);
export type BackendsResponse = Static<typeof BackendsResponseSchema>;

/** Compile-time proof that the schemas describe the types declared beside the backends. */
export type BackendSchemasMatch = [
  Same<Static<typeof LimitEnforcementSchema>, LimitEnforcement>,
  Same<Static<typeof WeakIsolationPolicySchema>, WeakIsolationPolicy>
] extends true[]
  ? true
  : never;
const backendSchemasMatch: BackendSchemasMatch = true;
void backendSchemasMatch;
