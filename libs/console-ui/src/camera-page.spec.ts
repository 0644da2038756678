import type { DeviceView } from '@ioc/console-data';
import { CAMERA_PAGE_SIZE, foldText, pageOfCameras, type CameraFilter } from './camera-page';

type Cam = { view: Pick<DeviceView, 'id' | 'name' | 'state' | 'status'> };

function cameras(n: number, status: (i: number) => DeviceView['status'] = () => 'online'): Cam[] {
  return Array.from({ length: n }, (_, i) => ({
    view: { id: `cam-${i}`, name: `Camera Đường số ${i}`, state: 'active', status: status(i) },
  }));
}
const keyOf = (c: Cam): string => foldText(`${c.view.name} ${c.view.id}`);
const all: CameraFilter = { text: '', status: 'all' };

describe('pageOfCameras', () => {
  it('cuts 1,000 cameras into pages of CAMERA_PAGE_SIZE and clamps the page number', () => {
    const list = cameras(1000);
    const first = pageOfCameras(list, all, 0, keyOf);
    expect(first.items).toHaveLength(CAMERA_PAGE_SIZE);
    expect(first.pages).toBe(Math.ceil(1000 / CAMERA_PAGE_SIZE));
    expect(first.total).toBe(1000);
    const last = pageOfCameras(list, all, 999, keyOf);
    expect(last.page).toBe(first.pages - 1);
    expect(last.items).toHaveLength(1000 - (first.pages - 1) * CAMERA_PAGE_SIZE);
    expect(last.items.at(-1)!.view.id).toBe('cam-999');
    expect(pageOfCameras(list, all, -3, keyOf).page).toBe(0);
  });

  it('filters by status and by folded text (diacritics, case, every word), and an empty result has one empty page', () => {
    const list = cameras(100, (i) => (i % 10 === 0 ? 'offline' : 'online'));
    const offline = pageOfCameras(list, { text: '', status: 'offline' }, 0, keyOf);
    expect(offline.total).toBe(10);
    expect(offline.items.every((c) => c.view.status === 'offline')).toBe(true);
    // Every word must match (name "Camera Đường số 42" or id): "42" alone also matches nothing else under 100.
    const text = pageOfCameras(list, { text: 'DUONG  So 42', status: 'all' }, 0, keyOf);
    expect(text.items.map((c) => c.view.id)).toEqual(['cam-42']);
    expect(pageOfCameras(list, { text: 'đường', status: 'all' }, 0, keyOf).total).toBe(100);
    const both = pageOfCameras(list, { text: 'so 4', status: 'offline' }, 0, keyOf);
    expect(both.items.map((c) => c.view.id)).toEqual(['cam-40']);
    const none = pageOfCameras(list, { text: 'không có', status: 'all' }, 2, keyOf);
    expect(none).toEqual({ items: [], page: 0, pages: 1, total: 0 });
  });

  it('counts a camera that is not active in the registry as inactive, whatever its connectivity', () => {
    const list: Cam[] = [{ view: { id: 'c', name: 'c', state: 'suspended', status: 'online' } }];
    expect(pageOfCameras(list, { text: '', status: 'online' }, 0, keyOf).total).toBe(0);
    expect(pageOfCameras(list, { text: '', status: 'inactive' }, 0, keyOf).total).toBe(1);
  });
});

describe('foldText', () => {
  it('drops Vietnamese diacritics and case', () => {
    expect(foldText('Đường Lê Lợi – Ngã Tư')).toBe('duong le loi – nga tu');
  });
});
