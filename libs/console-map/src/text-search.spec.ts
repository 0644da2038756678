import { foldText, searchEntries, searchKey } from './text-search';

const entries = [
  ['aq-0001', 'Trạm quan trắc không khí Hòa Thành'],
  ['sl-0002', 'Đèn đường Đường 30/4'],
  ['tc-0003', 'Đếm xe ngã tư Hoà Thành'],
  ['cam-0004', 'Camera cửa khẩu Mộc Bài'],
  ['aq-00010', 'Trạm Trảng Bàng'],
].map(([id, name]) => ({ id, key: searchKey(id, name) }));

describe('foldText', () => {
  it.each([
    ['Hòa Thành', 'hoa thanh'],
    ['Hoà Thành', 'hoa thanh'],
    ['ĐƯỜNG', 'duong'],
    ['đường', 'duong'],
    ['  Trảng   Bàng\t', 'trang bang'],
    ['Mộc Bài', 'moc bai'],
    ['SL-0002', 'sl-0002'],
  ])('%j → %j', (input, folded) => {
    expect(foldText(input)).toBe(folded);
  });

  it('agrees with NFD folding on every Vietnamese letter', () => {
    const letters = 'àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ';
    for (const letter of letters + letters.toUpperCase()) {
      const expected = letter.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
      expect(foldText(letter)).toBe(expected);
    }
  });
});

describe('searchEntries', () => {
  it('finds names without diacritics, in either Vietnamese spelling of the tone mark', () => {
    expect(searchEntries(entries, 'hoa thanh')).toEqual(['aq-0001', 'tc-0003']);
    expect(searchEntries(entries, 'Hòa Thành')).toEqual(['aq-0001', 'tc-0003']);
  });

  it('matches đ as d', () => {
    expect(searchEntries(entries, 'duong 30')).toEqual(['sl-0002']);
    expect(searchEntries(entries, 'đường')).toEqual(['sl-0002']);
  });

  it('finds by id, exact id first, then prefixes, then the rest', () => {
    expect(searchEntries(entries, 'AQ-0001')).toEqual(['aq-0001', 'aq-00010']);
    expect(searchEntries(entries, 'tram')).toEqual(['aq-0001', 'aq-00010']);
    expect(searchEntries(entries, 'bang')).toEqual(['aq-00010']);
  });

  it('needs every word and honours the limit; an empty query finds nothing', () => {
    expect(searchEntries(entries, 'hoa moc')).toEqual([]);
    expect(searchEntries(entries, 'a', 2)).toHaveLength(2);
    expect(searchEntries(entries, '   ')).toEqual([]);
  });
});
