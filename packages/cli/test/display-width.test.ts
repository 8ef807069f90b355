import { describe, expect, it } from 'vitest';
import { displayWidth, fitToWidth, padEndToWidth } from '../src/display-width.js';

describe('display width (terminal columns)', () => {
  it('counts East Asian wide and fullwidth characters as two columns', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('会話ログ')).toBe(8);
    expect(displayWidth('한국어')).toBe(6);
    expect(displayWidth('ＡＢ')).toBe(4); // fullwidth Latin
    expect(displayWidth('ｱｲ')).toBe(2); // halfwidth katakana stays narrow
    expect(displayWidth('𠀀')).toBe(2); // CJK extension B, outside the BMP
  });

  it('counts a grapheme once: combining marks and emoji sequences', () => {
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('👍')).toBe(2);
    expect(displayWidth('👨‍👩‍👧')).toBe(2);
    expect(displayWidth('🇫🇷')).toBe(2);
    expect(displayWidth('❤️')).toBe(2); // text symbol with the emoji variation selector
    expect(displayWidth('a\u200bb')).toBe(2); // zero-width space
  });

  it('pads and clips by columns, never splitting a wide character', () => {
    expect(padEndToWidth('会話', 6)).toBe('会話  ');
    expect(padEndToWidth('abcdef', 3)).toBe('abcdef');
    expect(fitToWidth('会話ログ', 5)).toBe('会話…');
    expect(displayWidth(fitToWidth('会話ログ', 5))).toBeLessThanOrEqual(5);
    expect(fitToWidth('short', 10)).toBe('short');
  });
});
