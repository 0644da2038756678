import type { DeviceView } from '@ioc/console-data';

/**
 * Camera tiles shown at once. A wall of 1,000 tiles is neither readable nor cheap (each tile is
 * ~25 DOM nodes); 24 fill the side column at 1366×768 in two or three screens of scrolling.
 */
export const CAMERA_PAGE_SIZE = 24;

/** A camera's status as its tile shows it: connectivity, or `inactive` when not active in the registry. */
export type CameraStatus = 'online' | 'offline' | 'unknown' | 'inactive';

/** What the camera list keeps: `status` `all` keeps every status; `text` matches name, id or area name. */
export interface CameraFilter {
  text: string;
  status: CameraStatus | 'all';
}

/** One page of the filtered cameras. `page` is 0-based and clamped to the pages there are. */
export interface CameraPage<T> {
  items: T[];
  page: number;
  /** At least 1 (an empty list has one empty page). */
  pages: number;
  /** Cameras the filter keeps. */
  total: number;
}

/** The status a tile shows for `view`. */
export function cameraStatusOf(view: Pick<DeviceView, 'state' | 'status'>): CameraStatus {
  return view.state === 'active' ? view.status : 'inactive';
}

/**
 * Text folded for a diacritics- and case-insensitive search: NFD without combining marks, `đ` →
 * `d`, lower case ("Đường Lê Lợi" → "duong le loi").
 */
export function foldText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').replace(/[đĐ]/g, 'd').toLowerCase();
}

/**
 * The cameras `filter` keeps (in the order given), cut to page `page` of `pageSize`. `keyOf`
 * gives each camera's folded search text (name, id, area name: see foldText); the caller caches it.
 */
export function pageOfCameras<T extends { view: Pick<DeviceView, 'state' | 'status'> }>(
  cameras: readonly T[],
  filter: CameraFilter,
  page: number,
  keyOf: (camera: T) => string,
  pageSize = CAMERA_PAGE_SIZE,
): CameraPage<T> {
  const words = foldText(filter.text).split(/\s+/).filter(Boolean);
  const kept =
    words.length === 0 && filter.status === 'all'
      ? cameras
      : cameras.filter((camera) => {
          if (filter.status !== 'all' && cameraStatusOf(camera.view) !== filter.status) return false;
          if (words.length === 0) return true;
          const key = keyOf(camera);
          return words.every((word) => key.includes(word));
        });
  const pages = Math.max(1, Math.ceil(kept.length / pageSize));
  const clamped = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  return {
    items: kept.slice(clamped * pageSize, clamped * pageSize + pageSize),
    page: clamped,
    pages,
    total: kept.length,
  };
}
