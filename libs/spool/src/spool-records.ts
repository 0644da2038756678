import { crc32 } from 'node:zlib';

/** Each record: u32 length, u32 CRC-32 of the body, then the body (UTF-8 JSON). */
export const RECORD_HEADER_BYTES = 8;

/** A record of `body`; text is written as UTF-8 straight into the record, with no copy between. */
export function encodeRecord(body: Buffer | string): Buffer {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length);
  record.writeUInt32LE(length, 0);
  if (typeof body === 'string') record.write(body, RECORD_HEADER_BYTES);
  else body.copy(record, RECORD_HEADER_BYTES);
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4);
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
