import { crc32 } from 'node:zlib';

/** Each record: u32 length, u32 CRC-32 of the body, then the body (UTF-8 JSON). */
export const RECORD_HEADER_BYTES = 8;

export function encodeRecord(body: Buffer): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  record.writeUInt32LE(body.length, 0);
  record.writeUInt32LE(crc32(body), 4);
  body.copy(record, RECORD_HEADER_BYTES);
  return record;
}

export interface DecodedSegment {
  bodies: Buffer[];
  /** Bytes up to the end of the last whole, intact record; anything after is a torn write. */
  validBytes: number;
}

/**
 * Reads the records of one segment. A crash can leave the last record half-written (the
 * process died between write and fdatasync): decoding stops at the first record whose length
 * runs past the end or whose checksum fails, and reports where the intact part ends.
 */
export function decodeSegment(data: Buffer): DecodedSegment {
  const bodies: Buffer[] = [];
  let offset = 0;
  while (offset + RECORD_HEADER_BYTES <= data.length) {
    const length = data.readUInt32LE(offset);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > data.length) break;
    const body = data.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(body) !== data.readUInt32LE(offset + 4)) break;
    bodies.push(body);
    offset = end;
  }
  return { bodies, validBytes: offset };
}
