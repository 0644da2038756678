import { codePointLabel, findUnsafeCharacter, printable, unsafeCharacterMessage } from './text-safety';

describe('text safety', () => {
  const unsafe = [
    0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x7f, 0x80, 0x85, 0x9f, 0x200e, 0x200f, 0x202a, 0x202e, 0x2066, 0x2069,
  ];
  const safe = [0x20, 0x7e, 0xa0, 0x110, 0x1ec7, 0x200d, 0x2010, 0x2029, 0x202f, 0x2065, 0x206a, 0xfeff];

  it.each(unsafe.map((cp) => [codePointLabel(cp), cp]))('finds %s', (label, cp) => {
    expect(findUnsafeCharacter(`ab${String.fromCharCode(cp)}c`)).toEqual({ index: 2, codePoint: cp, label });
    expect(printable(String.fromCharCode(cp))).toBe(`\\u${cp.toString(16).padStart(4, '0')}`);
  });

  it.each(safe.map((cp) => [codePointLabel(cp), cp]))(
    'lets %s through (the boundaries of each range)',
    (_l, cp) => {
      expect(findUnsafeCharacter(`a${String.fromCharCode(cp)}`)).toBeUndefined();
    },
  );

  it('words a refusal with the code point and its position from 1', () => {
    expect(unsafeCharacterMessage('Đèn')).toBeUndefined();
    expect(unsafeCharacterMessage('a\u0000b\u202e')).toBe(
      'contains the control character U+0000 at position 2 (control and bidirectional characters are refused)',
    );
    expect(unsafeCharacterMessage('abc\u202e')).toBe(
      'contains the bidirectional control character U+202E at position 4 (control and bidirectional characters are refused)',
    );
  });
});
