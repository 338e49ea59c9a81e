import { initialAnsiState, parseAnsi } from '../model/ansi';

describe('parseAnsi', () => {
  it('turns SGR codes into classes and drops other escapes', () => {
    const state = initialAnsiState();
    const segments = parseAnsi(
      'plain \x1b[1;31mbold red\x1b[0m \x1b[2Kback\x1b[92m bright',
      state
    );
    expect(segments).toEqual([
      { text: 'plain ', classes: [] },
      {
        text: 'bold red',
        classes: ['jp-ReproServer-ansi-fg1', 'jp-ReproServer-ansi-bold']
      },
      { text: ' ', classes: [] },
      { text: 'back', classes: [] },
      { text: ' bright', classes: ['jp-ReproServer-ansi-fg10'] }
    ]);
    expect(state.fg).toBe(10);
  });

  it('keeps a sequence cut between two chunks', () => {
    const state = initialAnsiState();
    expect(parseAnsi('a\x1b[3', state)).toEqual([{ text: 'a', classes: [] }]);
    expect(parseAnsi('2mgreen', state)).toEqual([
      { text: 'green', classes: ['jp-ReproServer-ansi-fg2'] }
    ]);
  });
});
