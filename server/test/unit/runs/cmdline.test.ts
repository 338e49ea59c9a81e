import {
  joinCommandLine,
  quoteWord,
  splitCommandLine
} from '../../../src/runs/cmdline';

describe('splitCommandLine', () => {
  it.each([
    ['python3 stats.py --scale 2.5', ['python3', 'stats.py', '--scale', '2.5']],
    ["sh -c 'echo $HOME'", ['sh', '-c', 'echo $HOME']],
    ['cat "données brutes.txt"', ['cat', 'données brutes.txt']],
    ['echo a\\ b', ['echo', 'a b']],
    ['echo "say \\"hi\\"" \'\'', ['echo', 'say "hi"', '']],
    ['  spaced   out  ', ['spaced', 'out']],
    ['a"b"\'c\'d', ['abcd']]
  ])('reads %s', (line, argv) => {
    expect(splitCommandLine(line)).toEqual(argv);
  });

  it.each([["echo 'open"], ['echo "open']])('refuses %s', line => {
    expect(() => splitCommandLine(line)).toThrow(/Unclosed/);
  });
});

describe('joinCommandLine', () => {
  it('leaves plain words alone and quotes the rest', () => {
    expect(quoteWord('--scale=2.5')).toBe('--scale=2.5');
    expect(quoteWord('')).toBe("''");
    expect(quoteWord("it's")).toBe(`'it'\\''s'`);
  });

  it.each([
    [['sh', 'wordfreq.sh', 'words.txt', '3']],
    [['cat', 'résumé final.txt', "it's", '$HOME', 'a"b', '', 'tab\there']]
  ])('round-trips %j', argv => {
    expect(splitCommandLine(joinCommandLine(argv))).toEqual(argv);
  });
});
