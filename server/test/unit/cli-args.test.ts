import { lastValues, parseArgs } from '../../src/cli/args';

describe('parseArgs', () => {
  it('splits positionals and flags in both spellings, keeping repeats', () => {
    const { positionals, flags } = parseArgs(
      [
        'run',
        'x.rpz',
        '--out',
        'dir',
        '--arg=0:1=5',
        '--arg',
        '0:2=6',
        '--json'
      ],
      ['json']
    );
    expect(positionals).toEqual(['run', 'x.rpz']);
    expect(flags).toEqual({
      out: ['dir'],
      arg: ['0:1=5', '0:2=6'],
      json: ['true']
    });
    expect(lastValues(flags).arg).toBe('0:2=6');
  });

  it('treats everything after -- as positional', () => {
    expect(parseArgs(['--', '--not-a-flag']).positionals).toEqual([
      '--not-a-flag'
    ]);
  });

  it('says which option lacks its value', () => {
    expect(() => parseArgs(['--port'])).toThrow(
      'The option --port needs a value.'
    );
  });
});
