/**
 * The OpenAPI 3.1 description of the API (`GET /api/openapi.json`), for clients other than the
 * panel. The TypeScript wire types in `contract/wire.ts` are the source of truth; the schemas here name
 * their fields so that generated clients and schema-based testers can use it.
 */
import { ERROR_CODES } from '../errors';
import { MAX_LIMITS } from '../runs/edits';
import { LIMIT_NAMES } from '../runs/edits-check';
import { RUN_STATUSES } from '../runs/events';
import { SERVER_VERSION } from '../version';

const ref = (name: string): { $ref: string } => ({
  $ref: `#/components/schemas/${name}`
});
const json = (schema: object): object => ({ 'application/json': { schema } });
const error = (description: string): object => ({
  description,
  content: json(ref('Error'))
});
const ok = (description: string, schema?: object): object =>
  schema ? { description, content: json(schema) } : { description };
const sha256Param = {
  name: 'sha256',
  in: 'path',
  required: true,
  schema: ref('Sha256')
};
const runIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }
};
const offsetParam = {
  name: 'offset',
  in: 'query',
  required: false,
  description:
    'Byte offset in the run’s event log, as given by an earlier message (default 0).',
  schema: { type: 'integer', minimum: 0 }
};
const common = {
  '401': error('No token, or a wrong one.'),
  '403': error('Cross-origin request.')
};

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'ReproServer companion server',
    version: SERVER_VERSION,
    description:
      'Registers ReproZip packages, builds their images, runs them with changed parameters and inputs, and serves logs and outputs. Every request needs the token, in `X-ReproServer-Token` or `Authorization: token …`.'
  },
  components: {
    securitySchemes: {
      token: { type: 'apiKey', in: 'header', name: 'X-ReproServer-Token' }
    },
    schemas: {
      Sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', enum: [...ERROR_CODES] },
              message: { type: 'string' }
            }
          }
        }
      },
      LimitEnforcement: {
        enum: ['cgroup', 'rlimit', 'polling', 'none'],
        description:
          'How a limit is enforced: a cgroup, an rlimit, a periodic measurement, or not at all.'
      },
      Confinement: {
        type: 'object',
        required: ['landlockAbi', 'seccomp', 'processSecrets', 'signals'],
        properties: {
          landlockAbi: {
            oneOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }],
            description:
              'Landlock ABI in force: files read only from the run’s root and a few system paths, written only in its tree; from 4 no TCP; from 6 no signals or abstract unix sockets outside the run. Null: none.'
          },
          seccomp: {
            type: 'boolean',
            description:
              'The seccomp filter: no socket but AF_UNIX, no ptrace, keyring, mounts, new namespaces, io_uring, bpf.'
          },
          processSecrets: {
            type: 'boolean',
            description:
              'Other processes’ environments, memory and open files are out of reach.'
          },
          signals: {
            type: 'boolean',
            description: 'Signals to processes outside the run are refused.'
          }
        }
      },
      BackendIsolation: {
        type: 'object',
        description:
          'What the backend isolates, stated from what was found at start and checked by the isolation probe tests: an experiment reaches exactly what is not isolated.',
        required: [
          'files',
          'network',
          'processes',
          'nestedUserNamespaces',
          'capabilities',
          'memory',
          'cpu',
          'disk'
        ],
        properties: {
          files: {
            type: 'boolean',
            description:
              'The experiment can neither read nor write host files outside its run’s tree.'
          },
          network: {
            type: 'boolean',
            description:
              'No network at all: no TCP or UDP to the host’s loopback or elsewhere.'
          },
          processes: {
            type: 'boolean',
            description:
              'Host processes are invisible and cannot be signalled; their environment is unreadable.'
          },
          nestedUserNamespaces: {
            type: 'boolean',
            description: 'The experiment may create user namespaces of its own.'
          },
          capabilities: {
            type: 'object',
            required: ['scope', 'root', 'nonRoot'],
            properties: {
              scope: {
                enum: ['container', 'user-namespace', 'host'],
                description:
                  'Where a root step’s capabilities take effect (host: the server’s own, unchanged).'
              },
              root: {
                type: 'array',
                items: { type: 'string' },
                description:
                  'Effective capabilities of a step recorded as root, without CAP_, sorted.'
              },
              nonRoot: {
                type: 'array',
                items: { type: 'string' },
                description:
                  'Effective capabilities of a step recorded as a non-root user.'
              }
            }
          },
          hostUser: {
            enum: ['server', 'unprivileged'],
            description:
              'Who the experiment is on the host where files or processes are not isolated: the server’s own user, or an unprivileged user id of the run’s own that owns nothing. Absent where both are isolated.'
          },
          confinement: {
            oneOf: [ref('Confinement'), { type: 'null' }],
            description:
              'The confinement each step runs under (no-new-privileges, Landlock, seccomp), as probed from inside at start; null or absent where there is none.'
          },
          memory: ref('LimitEnforcement'),
          cpu: ref('LimitEnforcement'),
          disk: ref('LimitEnforcement')
        }
      },
      BackendStatus: {
        type: 'object',
        required: ['name', 'available', 'detail', 'isolation'],
        properties: {
          name: { enum: ['docker', 'sandbox'] },
          available: { type: 'boolean' },
          detail: {
            type: 'string',
            description: 'Why it is unavailable, or what it runs on.'
          },
          isolation: {
            oneOf: [ref('BackendIsolation'), { type: 'null' }],
            description: 'What it isolates; null when it is unavailable.'
          }
        }
      },
      BackendsResponse: {
        type: 'object',
        required: ['backends', 'default', 'weakIsolation'],
        properties: {
          backends: { type: 'array', items: ref('BackendStatus') },
          default: {
            oneOf: [{ enum: ['docker', 'sandbox'] }, { type: 'null' }],
            description:
              'What `auto` picks now; null when nothing can run here.'
          },
          weakIsolation: {
            enum: ['ask', 'refuse'],
            description:
              'Runs on a backend that isolates less than files + network: started when the request accepts it (`ask`), or never (`refuse`).'
          },
          defaultLimits: {
            type: 'object',
            description:
              "What a run gets for each limit its edits leave out, on this machine: the memory limit is half the memory the server can use (its cgroup's limit or the RAM), 256 to 2048 MiB.",
            required: [...LIMIT_NAMES],
            properties: Object.fromEntries(
              LIMIT_NAMES.map(n => [n, { type: 'number', exclusiveMinimum: 0 }])
            )
          }
        }
      },
      PackageSummary: {
        type: 'object',
        required: ['sha256', 'name', 'size', 'path', 'createdAt'],
        properties: {
          sha256: ref('Sha256'),
          name: { type: 'string' },
          size: { type: 'integer' },
          path: { type: ['string', 'null'] },
          createdAt: { type: 'string', format: 'date-time' }
        }
      },
      RunEdits: {
        type: 'object',
        additionalProperties: false,
        properties: {
          steps: { type: 'array', items: { type: 'integer', minimum: 0 } },
          stepEdits: {
            type: 'array',
            items: {
              type: 'object',
              required: ['step'],
              properties: {
                step: { type: 'integer' },
                argv: { type: 'array', items: { type: 'string' } },
                args: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['index', 'value'],
                    properties: {
                      index: { type: 'integer' },
                      value: { type: 'string' }
                    }
                  }
                },
                setEnv: {
                  type: 'object',
                  additionalProperties: { type: 'string' }
                },
                unsetEnv: { type: 'array', items: { type: 'string' } }
              }
            }
          },
          inputs: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'source'],
              properties: {
                name: { type: 'string' },
                source: {
                  oneOf: [
                    {
                      type: 'object',
                      required: ['kind', 'path'],
                      properties: {
                        kind: { const: 'workspace' },
                        path: { type: 'string' }
                      }
                    },
                    {
                      type: 'object',
                      required: ['kind', 'sha256'],
                      properties: {
                        kind: { const: 'blob' },
                        sha256: ref('Sha256')
                      }
                    }
                  ]
                }
              }
            }
          },
          limits: {
            type: 'object',
            additionalProperties: false,
            properties: Object.fromEntries(
              LIMIT_NAMES.map(n => [
                n,
                { type: 'number', exclusiveMinimum: 0, maximum: MAX_LIMITS[n] }
              ])
            )
          }
        }
      },
      RunRecord: {
        type: 'object',
        description:
          'A run: status, steps with exit codes and durations, outputs, and the size of its event log.',
        required: ['id', 'package', 'status', 'steps', 'outputs', 'eventsSize'],
        properties: {
          id: { type: 'string' },
          package: ref('Sha256'),
          packageName: { type: 'string' },
          status: { enum: [...RUN_STATUSES] },
          steps: { type: 'array', items: { type: 'object' } },
          outputs: { type: 'array', items: { type: 'object' } },
          eventsSize: { type: 'integer' }
        }
      },
      RunEventMessage: {
        type: 'object',
        required: ['offset', 'event'],
        properties: { offset: { type: 'integer' }, event: { type: 'object' } }
      }
    }
  },
  security: [{ token: [] }],
  paths: {
    '/api/health': {
      get: {
        summary: 'The server answers.',
        responses: { '200': ok('Up.'), ...common }
      }
    },
    '/api/version': {
      get: {
        summary: 'Server and Node.js versions.',
        responses: { '200': ok('Versions.'), ...common }
      }
    },
    '/api/backends': {
      get: {
        summary:
          'Which backends can run experiments here, why not, and what each isolates.',
        responses: {
          '200': ok('Backends.', ref('BackendsResponse')),
          ...common
        }
      }
    },
    '/api/openapi.json': {
      get: { summary: 'This document.', responses: { '200': ok('OpenAPI.') } }
    },
    '/api/packages': {
      get: {
        summary: 'Registered packages.',
        responses: { '200': ok('Packages.'), ...common }
      },
      post: {
        summary: 'Register a package of the workspace by its path.',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['path'],
            properties: { path: { type: 'string' } }
          })
        },
        responses: {
          '200': ok('Registered (or already was).', ref('PackageSummary')),
          '400': error('Bad path.'),
          '403': error(
            'The path leads outside the workspace, or cross-origin request.'
          ),
          '404': error('No such file.'),
          '422': error('Not a readable ReproZip package.'),
          '401': common['401']
        }
      }
    },
    '/api/packages/upload': {
      put: {
        summary: 'Upload a package (streamed body).',
        parameters: [{ name: 'name', in: 'query', schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: { 'application/octet-stream': {} }
        },
        responses: {
          '200': ok('Registered.', ref('PackageSummary')),
          '413': error('Larger than the upload limit.'),
          '422': error('Not a readable ReproZip package.'),
          ...common
        }
      }
    },
    '/api/packages/{sha256}': {
      get: {
        summary: 'The package model and the typed parameters of its runs.',
        parameters: [sha256Param],
        responses: {
          '200': ok('Details.'),
          '404': error('Not registered.'),
          ...common
        }
      }
    },
    '/api/packages/{sha256}/build': {
      get: {
        summary: 'State of the package’s image.',
        parameters: [sha256Param],
        responses: {
          '200': ok('Build status.'),
          '404': error('Not registered.'),
          ...common
        }
      },
      post: {
        summary: 'Start or join the build of the package’s image.',
        parameters: [sha256Param],
        responses: {
          '202': ok('Build status.'),
          '404': error('Not registered.'),
          ...common
        }
      }
    },
    '/api/packages/{sha256}/build/events': {
      get: {
        summary:
          'The build’s latest events (those of the last build when none is going on), then its new events as they happen, as newline-delimited BuildEvent; the answer ends with the build.',
        parameters: [sha256Param],
        responses: {
          '200': {
            description: 'Build events.',
            content: { 'application/x-ndjson': {} }
          },
          '404': error('Not registered.'),
          ...common
        }
      }
    },
    '/api/uploads': {
      post: {
        summary:
          'Upload an input file (streamed body); use its sha256 as an input source.',
        requestBody: {
          required: true,
          content: { 'application/octet-stream': {} }
        },
        responses: {
          '200': ok('Stored.'),
          '413': error('Larger than the upload limit.'),
          ...common
        }
      }
    },
    '/api/runs': {
      get: {
        summary: 'Runs, newest first.',
        parameters: [{ name: 'package', in: 'query', schema: ref('Sha256') }],
        responses: { '200': ok('Runs.'), ...common }
      },
      post: {
        summary: 'Queue a run of a package with edits.',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['package'],
            properties: {
              package: ref('Sha256'),
              edits: ref('RunEdits'),
              backend: { enum: ['auto', 'docker', 'sandbox'] },
              acceptWeakIsolation: {
                type: 'boolean',
                description:
                  'The user accepted a backend that isolates less than files + network.'
              }
            }
          })
        },
        responses: {
          ...common,
          '202': ok('Queued.', ref('RunRecord')),
          '403': error(
            'Cross-origin request; or the backend isolates less than files + network and this server refuses such runs (`weak-isolation-refused`).'
          ),
          '409': error(
            'No backend can run here (`backend-unavailable`), or the backend isolates less than files + network and the request did not accept it (`weak-isolation-consent`).'
          ),
          '400': error(
            'Bad edits (unknown step, argument index out of range, unknown input…).'
          ),
          '404': error('Package not registered.'),
          '429': error('Too many runs of this package in the last minute.')
        }
      }
    },
    '/api/runs/{id}': {
      get: {
        summary: 'One run.',
        parameters: [runIdParam],
        responses: {
          '200': ok('The run.', ref('RunRecord')),
          '404': error('No such run.'),
          ...common
        }
      },
      delete: {
        summary: 'Delete a run and the blobs only it used.',
        parameters: [runIdParam],
        responses: {
          '204': ok('Deleted.'),
          '404': error('No such run.'),
          ...common
        }
      }
    },
    '/api/runs/{id}/cancel': {
      post: {
        summary: 'Cancel a queued or running run.',
        parameters: [runIdParam],
        responses: {
          '200': ok('The run.', ref('RunRecord')),
          '404': error('No such run.'),
          '409': error('Already ended.'),
          ...common
        }
      }
    },
    '/api/runs/{id}/events': {
      get: {
        summary:
          'The run’s events logged so far, as newline-delimited RunEventMessage. Over WebSocket (same URL): the same, then live events until the run ends.',
        parameters: [runIdParam, offsetParam],
        responses: {
          '200': {
            description: 'Events.',
            content: {
              'application/x-ndjson': { schema: ref('RunEventMessage') }
            }
          },
          '400': error('Bad offset.'),
          '404': error('No such run.'),
          ...common
        }
      }
    },
    '/api/runs/{id}/outputs/{name}': {
      get: {
        summary:
          'Download one output (declared name, or the absolute path of a changed file).',
        parameters: [
          runIdParam,
          {
            name: 'name',
            in: 'path',
            required: true,
            schema: { type: 'string' }
          }
        ],
        responses: {
          '200': {
            description: 'The bytes.',
            content: { 'application/octet-stream': {} }
          },
          '404': error('No such output.'),
          ...common
        }
      }
    },
    '/api/runs/{id}/save': {
      post: {
        summary:
          'Write the run’s outputs into a workspace folder (never overwriting).',
        parameters: [runIdParam],
        requestBody: {
          content: json({
            type: 'object',
            properties: { folder: { type: 'string' } }
          })
        },
        responses: {
          '200': ok('Written.'),
          '400': error('Bad folder.'),
          '403': error('Folder outside the workspace.'),
          '409': error('The run has not ended.'),
          '401': common['401']
        }
      }
    }
  }
} as const;
