import type { Reading } from '@ioc/contracts';

/** Events the /live namespace sends to operators' maps. */
export interface ServerToClientEvents {
  reading: (reading: Reading) => void;
  rejection: (rejection: Record<string, unknown>) => void;
}

/** What a client may ask for: one domain, one area (with its sub-areas) or one device per call. */
export interface LiveSubscription {
  domain?: string;
  area?: string;
  device?: string;
  /** Also receive rejected messages (operators watching for faulty or hostile devices). */
  rejections?: boolean;
}

export type LiveAck = { ok: true; rooms: string[] } | { ok: false; error: string };
