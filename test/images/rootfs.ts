// A root file system staged in a directory for test/images/oci.ts: files, directories, host
// programs with the shared libraries they load (read with ldd), and the account files a
// distroless base carries. Everything comes from this machine's Debian packages or the repository.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, cp, mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * The shared libraries (absolute paths, the loader included) that `program` loads, per ldd. A library
 * ldd cannot find fails, unless `providedBy` says the program's own runtime has it (libjvm.so).
 */
export async function sharedLibraries(
  program: string,
  providedBy?: (name: string) => boolean,
): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run("ldd", [program]));
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`;
    if (/not a dynamic executable/.test(out)) return [];
    throw new Error(`ldd ${program} failed: ${out.trim()}`, { cause: err });
  }
  const libs: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = /=>\s*(\/\S+)|^\s*(\/\S+)\s+\(/.exec(line);
    const path = m?.[1] ?? m?.[2];
    if (path) libs.push(path);
    const missing = /^\s*(\S+)\s*=>\s*not found/.exec(line)?.[1];
    if (missing && !providedBy?.(missing)) throw new Error(`${program}: ${line.trim()}`);
  }
  return libs;
}

export class Rootfs {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(prefix: string): Promise<Rootfs> {
    return new Rootfs(await mkdtemp(join(tmpdir(), `meridian-rootfs-${prefix}-`)));
  }

  #at(path: string): string {
    if (!path.startsWith("/")) throw new Error(`rootfs path ${path} must be absolute`);
    return join(this.dir, path);
  }

  async directory(path: string, mode = 0o755): Promise<void> {
    await mkdir(this.#at(path), { recursive: true });
    await chmod(this.#at(path), mode);
  }

  async file(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
    await mkdir(dirname(this.#at(path)), { recursive: true });
    await writeFile(this.#at(path), content, { mode });
    await chmod(this.#at(path), mode);
  }

  /** Copies a host file (symlinks followed) or directory tree to `dest`. */
  async copy(hostPath: string, dest: string): Promise<void> {
    await mkdir(dirname(this.#at(dest)), { recursive: true });
    await cp(await realpath(hostPath), this.#at(dest), { recursive: true, dereference: true });
  }

  /** Copies a host program and every shared library it loads, at the paths ldd names. */
  async program(hostPath: string, dest: string): Promise<void> {
    await mkdir(dirname(this.#at(dest)), { recursive: true });
    await copyFile(await realpath(hostPath), this.#at(dest));
    await chmod(this.#at(dest), 0o755);
    await this.librariesOf(hostPath);
  }

  /** Copies the host libraries `file` loads that lie outside `own` (a runtime copied whole). */
  async librariesOf(file: string, own?: string): Promise<void> {
    const provided = own
      ? (name: string) => existsSync(join(own, "lib", name)) || existsSync(join(own, "lib", "server", name))
      : undefined;
    for (const lib of await sharedLibraries(file, provided)) {
      if (!own || !lib.startsWith(`${own}/`)) await this.copy(lib, lib);
    }
  }

  /** /etc/passwd and /etc/group as distroless has them (root, nobody, nonroot 65532) plus `extra`. */
  async accounts(extra: { name: string; uid: number }[] = []): Promise<void> {
    const users = [
      { name: "root", uid: 0, home: "/root" },
      { name: "nobody", uid: 65534, home: "/nonexistent" },
      { name: "nonroot", uid: 65532, home: "/home/nonroot" },
      ...extra.map((u) => ({ ...u, home: "/nonexistent" })),
    ];
    await this.file(
      "/etc/passwd",
      users.map((u) => `${u.name}:x:${u.uid}:${u.uid}::${u.home}:/sbin/nologin\n`).join(""),
    );
    await this.file("/etc/group", users.map((u) => `${u.name}:x:${u.uid}:\n`).join(""));
    await this.directory("/tmp", 0o1777);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
