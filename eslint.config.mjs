// ESLint for the extension, the server, the UI tests and the benchmarks, with JupyterLab's
// conventions (interfaces named I…, Jupyter's own rules) and Prettier left in charge of layout.
import jupyter from '@jupyter/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/lib/**',
      '**/dist/**',
      'jupyterlab_reproserver/labextension/**',
      'jupyterlab_reproserver/server/**',
      '.venv/**',
      '.state/**',
      'workspace/**',
      'ui-tests/test-results/**',
      'ui-tests/playwright-report/**',
      'coverage/**'
    ]
  },
  ...tseslint.configs.recommended,
  ...jupyter.configs.recommended,
  {
    // JupyterLab's convention for the extension: interfaces are named I…. The server, a plain
    // Node.js program, names types without the prefix.
    files: ['src/**/*.ts', 'src/**/*.tsx', 'ui-tests/**/*.ts'],
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ]
    }
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', caughtErrors: 'none' }
      ],
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: 'error',
      curly: ['error', 'all'],
      'prefer-arrow-callback': 'error'
    }
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly'
      }
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  {
    // The panel takes the server's code through its one entry, `reproserver/contract`, never
    // through build paths (a stale build, a server-only module in the browser bundle).
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/**/__tests__/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'reproserver/*',
                '!reproserver/contract',
                '**/server/src/**'
              ],
              message:
                "Import the server's shared code from 'reproserver/contract'."
            }
          ]
        }
      ]
    }
  },
  {
    // The server is not a JupyterLab extension: Jupyter's UI rules do not apply there.
    files: ['server/**', 'bench/**'],
    rules: {
      'jupyter/no-untranslated-string': 'off',
      'jupyter/prefer-lazy-imports': 'off'
    }
  },
  prettier
);
