// The cluster's PKI, generated fresh at every start: EC P-256 keys from node:crypto, X.509
// certificates signed by the `openssl` CLI (node:crypto cannot write certificates). Nothing is
// committed and nothing outlives the cluster's temporary directory.
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its private key, as files and as PEM text. */
export interface IssuedCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface CertRequest {
  /** File name stem inside the directory: `<name>.crt`, `<name>.key`. */
  name: string;
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses for subjectAltName (serving certificates). */
  hosts?: string[];
  usage: "server" | "client" | "server+client";
}

const MIN_CONFIG = "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n";

function newKeyPem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", {
    namedCurve: "P-256",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

function subject(commonName: string, organizations: string[] = []): string {
  const esc = (s: string) => s.replace(/[/\\]/g, (c) => `\\${c}`);
  return `${organizations.map((o) => `/O=${esc(o)}`).join("")}/CN=${esc(commonName)}`;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run("openssl", args, { cwd: dir });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args[0]} failed (is openssl 3 on PATH?): ${stderr.trim()}`, { cause: err });
  }
}

/** A certificate authority: signs leaf certificates into `dir` for as long as its key exists. */
export class CertificateAuthority {
  /** Where issued certificates and keys are written. */
  readonly dir: string;
  readonly cert: IssuedCert;
  readonly #config: string;

  private constructor(dir: string, cert: IssuedCert, config: string) {
    this.dir = dir;
    this.cert = cert;
    this.#config = config;
  }

  /** Creates a self-signed CA `<name>.crt`/`<name>.key` in `dir`, valid ten years. */
  static async create(dir: string, name: string, commonName: string): Promise<CertificateAuthority> {
    const config = join(dir, `${name}.openssl.cnf`);
    await writeFile(config, MIN_CONFIG);
    const { privatePem } = newKeyPem();
    const keyPath = join(dir, `${name}.key`);
    const certPath = join(dir, `${name}.crt`);
    await writeFile(keyPath, privatePem, { mode: 0o600 });
    // biome-ignore format: one openssl flag per pair reads best
    await openssl(dir, [
      "req", "-x509", "-new", "-config", config, "-key", keyPath, "-subj", subject(commonName),
      "-days", "3650", "-out", certPath,
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    ]);
    const certPem = await readFile(certPath, "utf8");
    return new CertificateAuthority(dir, { certPath, keyPath, certPem, keyPem: privatePem }, config);
  }

  /** Uses an existing CA's files; issued certificates go to `outDir`. */
  static async load(certPath: string, keyPath: string, outDir: string): Promise<CertificateAuthority> {
    const config = join(outDir, "ca.openssl.cnf");
    await writeFile(config, MIN_CONFIG);
    const [certPem, keyPem] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    return new CertificateAuthority(outDir, { certPath, keyPath, certPem, keyPem }, config);
  }

  /** Signs a new leaf certificate (fresh key) into `this.dir`, valid one year. */
  async issue(req: CertRequest): Promise<IssuedCert> {
    const { privatePem } = newKeyPem();
    const keyPath = join(this.dir, `${req.name}.key`);
    const certPath = join(this.dir, `${req.name}.crt`);
    await writeFile(keyPath, privatePem, { mode: 0o600 });
    const eku = { server: "serverAuth", client: "clientAuth", "server+client": "serverAuth,clientAuth" }[
      req.usage
    ];
    // biome-ignore format: one openssl flag per pair reads best
    const args = [
      "req", "-x509", "-new", "-config", this.#config, "-key", keyPath,
      "-subj", subject(req.commonName, req.organizations), "-days", "365", "-out", certPath,
      "-CA", this.cert.certPath, "-CAkey", this.cert.keyPath,
      "-addext", "basicConstraints=critical,CA:FALSE",
      "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
      "-addext", `extendedKeyUsage=${eku}`,
    ];
    const hosts = req.hosts ?? [];
    if (hosts.length > 0) {
      const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
      args.push("-addext", `subjectAltName=${san}`);
    }
    await openssl(this.dir, args);
    return { certPath, keyPath, certPem: await readFile(certPath, "utf8"), keyPem: privatePem };
  }
}

/** The service-account token signing key pair: `<name>.key` (PKCS#8) and `<name>.pub` (SPKI). */
export async function createSigningKeyPair(
  dir: string,
  name: string,
): Promise<{ privateKeyPath: string; publicKeyPath: string }> {
  const { privatePem, publicPem } = newKeyPem();
  const privateKeyPath = join(dir, `${name}.key`);
  const publicKeyPath = join(dir, `${name}.pub`);
  await Promise.all([
    writeFile(privateKeyPath, privatePem, { mode: 0o600 }),
    writeFile(publicKeyPath, publicPem),
  ]);
  return { privateKeyPath, publicKeyPath };
}
