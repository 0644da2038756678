import { deflateSync } from 'node:zlib';

/** CRC-32 (ISO 3309, polynomial 0xEDB88320) as PNG chunks carry it (PNG spec §5.5). */
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A 256×256 PNG tile of one colour (8-bit RGB, PNG spec §11.2.2), for tile servers in tests. */
export function solidPngTile(rgb: [number, number, number]): Buffer {
  const size = 256;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(size * 3, Buffer.from(rgb))]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: size }, () => row)))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/**
 * A PMTiles v3 archive holding one PNG tile at z0 (the whole world), uncompressed directories
 * (PMTiles spec v3: 127-byte header; root directory = varint entry count, tile-id deltas, run
 * lengths, lengths, offsets + 1; then JSON metadata and tile data). Bounds and centre: Tây Ninh.
 */
export function pmtilesWithOneTile(png: Buffer, maxZoom = 0): Buffer {
  const directory = Buffer.concat([varint(1), varint(0), varint(1), varint(png.length), varint(1)]);
  const metadata = Buffer.from('{}');
  const header = Buffer.alloc(127);
  header.write('PMTiles', 0, 'latin1');
  header[7] = 3;
  const rootOffset = 127;
  const metadataOffset = rootOffset + directory.length;
  const dataOffset = metadataOffset + metadata.length;
  const fields = [
    rootOffset,
    directory.length,
    metadataOffset,
    metadata.length,
    0,
    0,
    dataOffset,
    png.length,
    1,
    1,
    1,
  ];
  fields.forEach((value, i) => header.writeBigUInt64LE(BigInt(value), 8 + i * 8));
  header.set([1, 1, 1, 2, 0, maxZoom], 96); // clustered, internal/tile compression none, tile type PNG, min/max zoom
  [105.8, 10.9, 106.5, 11.8].forEach((degrees, i) =>
    header.writeInt32LE(Math.round(degrees * 1e7), 102 + i * 4),
  );
  header[118] = 0;
  header.writeInt32LE(Math.round(106.1 * 1e7), 119);
  header.writeInt32LE(Math.round(11.3 * 1e7), 123);
  return Buffer.concat([header, directory, metadata, png]);
}
