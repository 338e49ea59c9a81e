/**
 * The users file of a shared server: its format and bounds (`users/file.ts`), and the registry
 * that reads it, follows its changes and keeps the users it knew when an edit breaks it
 * (`users/registry.ts`).
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  USERS_FILE_MAX_BYTES,
  USERS_MAX,
  UsersFileError,
  formatUsers,
  parseUsers,
  tokenSha256
} from '../../../src/users/file';
import { UserRegistry } from '../../../src/users/registry';

const hash = (token: string) => tokenSha256(token);

describe('the users file', () => {
  it('reads NAME:SHA256 lines, skipping blank lines and comments', () => {
    const text = `# class of 2026\n\nalice:${hash('a')}\n  bob:${hash('b')}  \n`;
    expect(parseUsers(text, 'users')).toEqual([
      { name: 'alice', tokenSha256: hash('a') },
      { name: 'bob', tokenSha256: hash('b') }
    ]);
  });

  it('writes what it reads', () => {
    const users = [
      { name: 'jo.doe@uni', tokenSha256: hash('x') },
      { name: 'b_2', tokenSha256: hash('y') }
    ];
    expect(parseUsers(formatUsers(users), 'users')).toEqual(users);
  });

  it.each([
    [
      'a line without a colon',
      `alice ${hash('a')}`,
      'line 1: write each user as NAME:SHA256'
    ],
    [
      'a token instead of its hash',
      'alice:secret-token',
      'is not 64 lowercase hex digits'
    ],
    [
      'an upper-case hash',
      `alice:${hash('a').toUpperCase()}`,
      'is not 64 lowercase hex digits'
    ],
    ['a bad name', `al ice:${hash('a')}`, '"al ice" is not a user name'],
    ['an empty name', `:${hash('a')}`, '"" is not a user name'],
    ['a name too long', `${'a'.repeat(65)}:${hash('a')}`, 'is not a user name'],
    [
      'a name twice',
      `a:${hash('a')}\na:${hash('b')}`,
      'line 2: the user "a" is named twice'
    ],
    [
      'a token twice',
      `a:${hash('a')}\nb:${hash('a')}`,
      'line 2: "b" has the same token as an earlier user'
    ]
  ])('refuses %s, naming the file and line', (_, text, words) => {
    expect(() => parseUsers(text, '/etc/rs/users')).toThrow(UsersFileError);
    expect(() => parseUsers(text, '/etc/rs/users')).toThrow(words);
  });

  it('refuses more users than a server takes, and a file over its size', () => {
    const many = Array.from(
      { length: USERS_MAX + 1 },
      (_, i) => `u${i}:${hash(String(i))}`
    ).join('\n');
    expect(() => parseUsers(many, 'users')).toThrow(
      `names more than ${USERS_MAX} users`
    );
    expect(() =>
      parseUsers('#'.repeat(USERS_FILE_MAX_BYTES + 1), 'users')
    ).toThrow(`larger than ${USERS_FILE_MAX_BYTES} bytes`);
  });
});

describe('UserRegistry', () => {
  let folder: string;
  let file: string;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'reproserver-users-'));
    file = join(folder, 'users');
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('knows each user by their token, and nobody by a hash or a wrong token', () => {
    writeFileSync(file, `alice:${hash('token-a')}\nbob:${hash('token-b')}\n`);
    const users = UserRegistry.load(file);
    expect(users.size).toBe(2);
    expect(users.identify('token-a')).toBe('alice');
    expect(users.identify('token-b')).toBe('bob');
    expect(users.identify('token-c')).toBeUndefined();
    expect(users.identify(hash('token-a'))).toBeUndefined();
  });

  it('refuses at load a file that is missing, a link, too large or wrong', () => {
    expect(() => UserRegistry.load(file)).toThrow(
      `Cannot read the users file ${file}`
    );
    writeFileSync(join(folder, 'real'), `a:${hash('a')}\n`);
    symlinkSync(join(folder, 'real'), file);
    expect(() => UserRegistry.load(file)).toThrow(UsersFileError);
    rmSync(file);
    writeFileSync(file, Buffer.alloc(USERS_FILE_MAX_BYTES + 1, 0x23));
    expect(() => UserRegistry.load(file)).toThrow(
      `more than the ${USERS_FILE_MAX_BYTES} a users file may have`
    );
    writeFileSync(file, 'alice:token\n');
    expect(() => UserRegistry.load(file)).toThrow(`${file}, line 1`);
  });

  it('reloads: new users in, removed users out; a broken edit keeps the users known', () => {
    writeFileSync(file, `alice:${hash('token-a')}\n`);
    const users = UserRegistry.load(file);
    writeFileSync(file, `bob:${hash('token-b')}\n`);
    expect(users.reload()).toBeUndefined();
    expect(users.identify('token-a')).toBeUndefined();
    expect(users.identify('token-b')).toBe('bob');
    writeFileSync(file, 'bob:oops\n');
    const error = users.reload();
    expect(error).toBeInstanceOf(UsersFileError);
    expect(error!.message).toContain('line 1');
    expect(users.identify('token-b')).toBe('bob');
  });

  it('reads the file again by itself when it changes', async () => {
    writeFileSync(file, `alice:${hash('token-a')}\n`);
    const users = UserRegistry.load(file);
    const reloaded = new Promise<UsersFileError | undefined>(resolve =>
      users.watch(resolve, 50)
    );
    try {
      writeFileSync(
        file,
        `alice:${hash('token-a')}\ncarol:${hash('token-c')}\n`
      );
      expect(await reloaded).toBeUndefined();
      expect(users.identify('token-c')).toBe('carol');
    } finally {
      users.close();
    }
  });
});
