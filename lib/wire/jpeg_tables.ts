/**
 * The standard JPEG tables of ITU T.81 Annex K that RFC 2435 types 0/1 imply:
 * the example quantization tables (K.1, K.2), their scaling by a quality
 * factor Q (RFC 2435 §4.2), and the four Huffman tables (K.3).
 *
 * @module
 */

/**
 * Zig-zag scan order: `ZIGZAG[i]` is the natural (row-major) index of the
 * i-th coefficient in zig-zag order, as DQT segments store them.
 */
export const ZIGZAG: readonly number[] = (() => {
  const order: number[] = [];
  for (let s = 0; s < 15; s++) {
    const rows = [];
    for (let row = Math.max(0, s - 7); row <= Math.min(7, s); row++) rows.push(row);
    if (s % 2 === 0) rows.reverse(); // even diagonals run from bottom-left to top-right
    for (const row of rows) order.push(row * 8 + (s - row));
  }
  return order;
})();

/** Table K.1, luminance quantization, in natural order. */
const K1 = [
  16,
  11,
  10,
  16,
  24,
  40,
  51,
  61,
  12,
  12,
  14,
  19,
  26,
  58,
  60,
  55,
  14,
  13,
  16,
  24,
  40,
  57,
  69,
  56,
  14,
  17,
  22,
  29,
  51,
  87,
  80,
  62,
  18,
  22,
  37,
  56,
  68,
  109,
  103,
  77,
  24,
  35,
  55,
  64,
  81,
  104,
  113,
  92,
  49,
  64,
  78,
  87,
  103,
  121,
  120,
  101,
  72,
  92,
  95,
  98,
  112,
  100,
  103,
  99,
]; // deno-fmt-ignore

/** Table K.2, chrominance quantization, in natural order. */
const K2 = [
  17, 18, 24, 47, 99, 99, 99, 99,
  18, 21, 26, 66, 99, 99, 99, 99,
  24, 26, 56, 99, 99, 99, 99, 99,
  47, 66, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99,
]; // deno-fmt-ignore

const scaledCache = new Map<number, Uint8Array>();

/**
 * The luminance and chrominance tables for quality factor `q` (1–99) as
 * RFC 2435 §4.2 derives them, each 64 bytes in zig-zag order, one after the
 * other (128 bytes).
 *
 * @throws {RangeError} when `q` is not 1–99.
 */
export function scaledQuantTables(q: number): Uint8Array {
  if (!Number.isInteger(q) || q < 1 || q > 99) {
    throw new RangeError(`Cannot derive quantization tables for Q ${q}: must be 1-99`);
  }
  const cached = scaledCache.get(q);
  if (cached) return cached;
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  const out = new Uint8Array(128);
  for (let i = 0; i < 64; i++) {
    const natural = ZIGZAG[i];
    out[i] = Math.min(255, Math.max(1, Math.floor((K1[natural] * scale + 50) / 100)));
    out[64 + i] = Math.min(255, Math.max(1, Math.floor((K2[natural] * scale + 50) / 100)));
  }
  scaledCache.set(q, out);
  return out;
}

/** A Huffman table as a DHT segment carries it: 16 code-length counts and the symbols. */
export interface HuffmanTable {
  /** 0 for DC, 1 for AC. */
  tableClass: number;
  /** Destination id: 0 luminance, 1 chrominance. */
  id: number;
  /** Number of codes of each length 1–16. */
  bits: readonly number[];
  /** The symbols in code order. */
  values: readonly number[];
}

const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/** Table K.5 symbols (AC luminance). */
const AC_LUMA_VALUES = [
  0x01,
  0x02,
  0x03,
  0x00,
  0x04,
  0x11,
  0x05,
  0x12,
  0x21,
  0x31,
  0x41,
  0x06,
  0x13,
  0x51,
  0x61,
  0x07,
  0x22,
  0x71,
  0x14,
  0x32,
  0x81,
  0x91,
  0xa1,
  0x08,
  0x23,
  0x42,
  0xb1,
  0xc1,
  0x15,
  0x52,
  0xd1,
  0xf0,
  0x24,
  0x33,
  0x62,
  0x72,
  0x82,
  0x09,
  0x0a,
  0x16,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x25,
  0x26,
  0x27,
  0x28,
  0x29,
  0x2a,
  0x34,
  0x35,
  0x36,
  0x37,
  0x38,
  0x39,
  0x3a,
  0x43,
  0x44,
  0x45,
  0x46,
  0x47,
  0x48,
  0x49,
  0x4a,
  0x53,
  0x54,
  0x55,
  0x56,
  0x57,
  0x58,
  0x59,
  0x5a,
  0x63,
  0x64,
  0x65,
  0x66,
  0x67,
  0x68,
  0x69,
  0x6a,
  0x73,
  0x74,
  0x75,
  0x76,
  0x77,
  0x78,
  0x79,
  0x7a,
  0x83,
  0x84,
  0x85,
  0x86,
  0x87,
  0x88,
  0x89,
  0x8a,
  0x92,
  0x93,
  0x94,
  0x95,
  0x96,
  0x97,
  0x98,
  0x99,
  0x9a,
  0xa2,
  0xa3,
  0xa4,
  0xa5,
  0xa6,
  0xa7,
  0xa8,
  0xa9,
  0xaa,
  0xb2,
  0xb3,
  0xb4,
  0xb5,
  0xb6,
  0xb7,
  0xb8,
  0xb9,
  0xba,
  0xc2,
  0xc3,
  0xc4,
  0xc5,
  0xc6,
  0xc7,
  0xc8,
  0xc9,
  0xca,
  0xd2,
  0xd3,
  0xd4,
  0xd5,
  0xd6,
  0xd7,
  0xd8,
  0xd9,
  0xda,
  0xe1,
  0xe2,
  0xe3,
  0xe4,
  0xe5,
  0xe6,
  0xe7,
  0xe8,
  0xe9,
  0xea,
  0xf1,
  0xf2,
  0xf3,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf8,
  0xf9,
  0xfa,
]; // deno-fmt-ignore

/** Table K.6 symbols (AC chrominance). */
const AC_CHROMA_VALUES = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
  0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
  0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
  0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
]; // deno-fmt-ignore

/** The four Huffman tables of Annex K.3, in the order DC0, AC0, DC1, AC1. */
export const STANDARD_HUFFMAN_TABLES: readonly HuffmanTable[] = [
  { tableClass: 0, id: 0, bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], values: DC_VALUES },
  {
    tableClass: 1,
    id: 0,
    bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
    values: AC_LUMA_VALUES,
  },
  { tableClass: 0, id: 1, bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], values: DC_VALUES },
  {
    tableClass: 1,
    id: 1,
    bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    values: AC_CHROMA_VALUES,
  },
];

/**
 * Whether a DHT segment's payload (after its length field) holds only
 * tables equal to the standard one of the same class and id.
 */
export function isStandardHuffmanSegment(data: Uint8Array): boolean {
  let offset = 0;
  while (offset < data.length) {
    if (offset + 17 > data.length) return false;
    const tableClass = data[offset] >> 4;
    const id = data[offset] & 15;
    const standard = STANDARD_HUFFMAN_TABLES.find((t) =>
      t.tableClass === tableClass && t.id === id
    );
    if (!standard) return false;
    let count = 0;
    for (let i = 0; i < 16; i++) {
      if (data[offset + 1 + i] !== standard.bits[i]) return false;
      count += data[offset + 1 + i];
    }
    if (offset + 17 + count > data.length || count !== standard.values.length) return false;
    for (let i = 0; i < count; i++) {
      if (data[offset + 17 + i] !== standard.values[i]) return false;
    }
    offset += 17 + count;
  }
  return true;
}
