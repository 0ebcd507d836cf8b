/**
 * A baseline JPEG encoder for exactly what RFC 2435 types 0/1 carry:
 * 8-bit Y/Cb/Cr, 4:2:0 sampling (Y 2x2, chroma 1x1), the quantization
 * tables of RFC 2435 §4.2 for a quality factor, and the standard Huffman
 * tables of ITU T.81 Annex K.3. Used to convert, once per file, JPEGs that
 * RFC 2435 cannot carry as they are (4:4:4, progressive, custom Huffman
 * tables, …) after a decoder has turned them into pixels.
 *
 * @module
 */
import { buildJpegHeader } from "./rfc2435_depacketizer.ts";
import {
  type HuffmanTable,
  scaledQuantTables,
  STANDARD_HUFFMAN_TABLES,
  ZIGZAG,
} from "./jpeg_tables.ts";

/** Decoded pixels: 4 bytes (R, G, B, A) per pixel, row by row. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

interface HuffmanCodes {
  code: Uint16Array;
  length: Uint8Array;
}

function huffmanCodes(table: HuffmanTable): HuffmanCodes {
  const code = new Uint16Array(256);
  const length = new Uint8Array(256);
  let next = 0, k = 0;
  for (let bits = 1; bits <= 16; bits++) {
    for (let i = 0; i < table.bits[bits - 1]; i++) {
      const symbol = table.values[k++];
      code[symbol] = next++;
      length[symbol] = bits;
    }
    next <<= 1;
  }
  return { code, length };
}

const [DC_LUMA, AC_LUMA, DC_CHROMA, AC_CHROMA] = STANDARD_HUFFMAN_TABLES.map(huffmanCodes);

/** cos((2x+1)uπ/16) · C(u)/2, for the separable forward DCT. */
const DCT = (() => {
  const m = new Float64Array(64);
  for (let u = 0; u < 8; u++) {
    for (let x = 0; x < 8; x++) {
      m[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) / 2 * Math.cos((2 * x + 1) * u * Math.PI / 16);
    }
  }
  return m;
})();

class BitWriter {
  bytes: number[] = [];
  #buffer = 0;
  #count = 0;

  write(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.#buffer = (this.#buffer << 1) | ((code >> i) & 1);
      if (++this.#count === 8) this.#flushByte();
    }
  }

  #flushByte(): void {
    this.bytes.push(this.#buffer);
    if (this.#buffer === 0xff) this.bytes.push(0); // byte stuffing
    this.#buffer = 0;
    this.#count = 0;
  }

  /** Pad the last byte with 1 bits. */
  finish(): void {
    if (this.#count > 0) this.write(0x7f, 8 - this.#count);
  }
}

/** Bit category of a coefficient and its additional bits (T.81 F.1.2.1). */
function category(value: number): [number, number] {
  const magnitude = Math.abs(value);
  let size = 0;
  while ((1 << size) <= magnitude) size++;
  return [size, value < 0 ? value + (1 << size) - 1 : value];
}

/**
 * Encode pixels as a baseline 4:2:0 JPEG with standard Huffman tables.
 *
 * @param q Quality factor 1–99 (RFC 2435 §4.2 tables). @default {90}
 * @throws {RangeError} for an empty image or a size over 65535.
 */
export function encodeBaselineJpeg(image: RgbaImage, q = 90): Uint8Array {
  const { width, height, data } = image;
  if (width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new RangeError(`Cannot encode a ${width}x${height} JPEG`);
  }
  if (data.length < width * height * 4) throw new RangeError("Cannot encode: too few pixel bytes");
  const tables = scaledQuantTables(q);
  const writer = new BitWriter();
  const mcusX = Math.ceil(width / 16), mcusY = Math.ceil(height / 16);
  const y = new Float64Array(256), cb = new Float64Array(64), cr = new Float64Array(64);
  const block = new Float64Array(64), temp = new Float64Array(64);
  const previous = [0, 0, 0];

  const encodeBlock = (
    samples: Float64Array,
    offset: number,
    stride: number,
    component: number,
  ) => {
    for (let row = 0; row < 8; row++) {
      for (let col = 0; col < 8; col++) {
        block[row * 8 + col] = samples[offset + row * stride + col] - 128;
      }
    }
    for (let row = 0; row < 8; row++) { // rows
      for (let u = 0; u < 8; u++) {
        let sum = 0;
        for (let x = 0; x < 8; x++) sum += DCT[u * 8 + x] * block[row * 8 + x];
        temp[row * 8 + u] = sum;
      }
    }
    const quant = component === 0 ? 0 : 64;
    const zz = new Int32Array(64);
    for (let i = 0; i < 64; i++) { // columns, then quantize in zig-zag order
      const natural = ZIGZAG[i];
      const v = natural >> 3, u = natural & 7;
      let sum = 0;
      for (let yy = 0; yy < 8; yy++) sum += DCT[v * 8 + yy] * temp[yy * 8 + u];
      zz[i] = Math.round(sum / tables[quant + i]);
    }
    const dc = component === 0 ? DC_LUMA : DC_CHROMA;
    const ac = component === 0 ? AC_LUMA : AC_CHROMA;
    const [dcSize, dcBits] = category(zz[0] - previous[component]);
    previous[component] = zz[0];
    writer.write(dc.code[dcSize], dc.length[dcSize]);
    if (dcSize) writer.write(dcBits, dcSize);
    let run = 0;
    for (let i = 1; i < 64; i++) {
      if (zz[i] === 0) {
        run++;
        continue;
      }
      while (run > 15) {
        writer.write(ac.code[0xf0], ac.length[0xf0]);
        run -= 16;
      }
      const [size, bits] = category(zz[i]);
      const symbol = (run << 4) | size;
      writer.write(ac.code[symbol], ac.length[symbol]);
      writer.write(bits, size);
      run = 0;
    }
    if (run > 0) writer.write(ac.code[0x00], ac.length[0x00]);
  };

  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      cb.fill(0);
      cr.fill(0);
      for (let py = 0; py < 16; py++) {
        const sy = Math.min(height - 1, my * 16 + py);
        for (let px = 0; px < 16; px++) {
          const sx = Math.min(width - 1, mx * 16 + px);
          const at = (sy * width + sx) * 4;
          const r = data[at], g = data[at + 1], b = data[at + 2];
          y[py * 16 + px] = 0.299 * r + 0.587 * g + 0.114 * b;
          const c = (py >> 1) * 8 + (px >> 1);
          cb[c] += (-0.168736 * r - 0.331264 * g + 0.5 * b + 128) / 4;
          cr[c] += (0.5 * r - 0.418688 * g - 0.081312 * b + 128) / 4;
        }
      }
      encodeBlock(y, 0, 16, 0);
      encodeBlock(y, 8, 16, 0);
      encodeBlock(y, 128, 16, 0);
      encodeBlock(y, 136, 16, 0);
      encodeBlock(cb, 0, 8, 1);
      encodeBlock(cr, 0, 8, 2);
    }
  }
  writer.finish();
  const header = buildJpegHeader(1, width, height, { precision: 0, data: tables }, 0);
  const out = new Uint8Array(header.length + writer.bytes.length + 2);
  out.set(header);
  out.set(writer.bytes, header.length);
  out.set([0xff, 0xd9], header.length + writer.bytes.length);
  return out;
}
