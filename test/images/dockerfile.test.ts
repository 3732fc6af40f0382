// What can be checked about the images without a container engine: the root Dockerfile's two final
// targets copy sources that exist and are not dockerignored, start the right entry point with exec-form
// ENTRYPOINT on a shell-less base, run as non-root, use Node 24 in every stage, carry OCI labels, and
// the entry points handle SIGTERM themselves (node is PID 1 in distroless).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ENTRY_POINTS, externalImports } from "@meridian/shared/build/bundle";
import { repoRoot } from "../cluster/paths.ts";
import {
  copies,
  dockerignorePatterns,
  execForm,
  isIgnored,
  labels,
  parseDockerfile,
  type Stage,
  user,
} from "./dockerfile.ts";
import { importGraph } from "./import-graph.ts";
import { builtImageRuntime, imageRuntime } from "./runtime.ts";

const dockerfile = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
const ignore = dockerignorePatterns(readFileSync(join(repoRoot, ".dockerignore"), "utf8"));
const rootPackage = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  workspaces: string[];
  devDependencies: Record<string, string>;
};

/** The two images and the package each one runs (the contract in docs/CONVENTIONS.md). */
const TARGETS = [
  { stage: "agent", pkg: "agent", title: "meridian-agent" },
  { stage: "workspace-agent", pkg: "workspace-agent", title: "meridian-workspace-agent" },
] as const;

function stage(name: string): Stage {
  const s = dockerfile.stages.find((st) => st.name === name);
  assert.ok(s, `Dockerfile has no stage named ${name}`);
  return s;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe("root Dockerfile", () => {
  test("every COPY source from the context exists and is not dockerignored", () => {
    for (const s of dockerfile.stages) {
      for (const c of copies(s).filter((cp) => cp.from === undefined)) {
        for (const src of c.sources) {
          assert.ok(existsSync(join(repoRoot, src)), `line ${c.line}: COPY source ${src} does not exist`);
          assert.equal(isIgnored(src, ignore), false, `line ${c.line}: ${src} is excluded by .dockerignore`);
        }
      }
    }
  });

  test("every COPY --from names an earlier stage", () => {
    dockerfile.stages.forEach((s, i) => {
      for (const c of copies(s).filter((cp) => cp.from !== undefined)) {
        const earlier = dockerfile.stages.slice(0, i).map((st) => st.name);
        assert.ok(earlier.includes(c.from), `line ${c.line}: COPY --from=${c.from} is not an earlier stage`);
      }
    });
  });

  test("the build context leaves out node_modules, .git and the cache", () => {
    for (const p of ["node_modules/x", "agent/node_modules/x", ".git/HEAD", ".cache/helm"]) {
      assert.ok(isIgnored(p, ignore), `${p} would be sent to the builder`);
    }
    assert.ok(isIgnored("agent/src/config.test.ts", ignore), "unit tests would ship in the image");
  });

  test("the dependency stages see every workspace manifest, so npm ci finds the lockfile in sync", () => {
    const copied = new Set(dockerfile.stages.flatMap((s) => copies(s).flatMap((c) => c.sources)));
    for (const ws of rootPackage.workspaces) {
      assert.ok(copied.has(`${ws}/package.json`), `${ws}/package.json is not copied`);
    }
    assert.ok(copied.has("package-lock.json"), "the lockfile is not copied");
  });

  test("every stage runs Node 24, the major of the repository's node devDependency", () => {
    const major = /^(\d+)/.exec(rootPackage.devDependencies.node ?? "")?.[1];
    assert.equal(major, "24");
    for (const s of dockerfile.stages) {
      const base = s.base;
      const nodeMajor =
        /^(?:docker\.io\/)?(?:library\/)?node:(\d+)/.exec(base)?.[1] ??
        /distroless\/nodejs(\d+)/.exec(base)?.[1];
      const fromStage = dockerfile.stages.some((st) => st.name === base);
      assert.ok(
        fromStage || nodeMajor === major,
        `stage ${s.name ?? "?"} is based on ${base}, not Node ${major}`,
      );
    }
  });

  for (const t of TARGETS) {
    describe(`target ${t.stage}`, () => {
      test("runs its entry point with exec-form ENTRYPOINT on a shell-less base", () => {
        const s = stage(t.stage);
        assert.match(s.base, /^gcr\.io\/distroless\/nodejs\d+-debian\d+(:nonroot)?(@sha256:[a-f0-9]{64})?$/);
        const entrypoint = execForm(s, "ENTRYPOINT");
        assert.ok(Array.isArray(entrypoint), `ENTRYPOINT must be exec form, got ${String(entrypoint)}`);
        assert.doesNotMatch(entrypoint[0]!, /(^|\/)(sh|bash|ash|dash)$/, "the entry point is a shell");
        assert.equal(entrypoint[0], "/nodejs/bin/node");
        assert.equal(entrypoint.at(-1), `/app/${t.pkg}/dist/main.js`);
        for (const flag of entrypoint.slice(1, -1))
          assert.match(flag, /^--[a-z-]+(=\S+)?$/, "node flags only");
        const cmd = execForm(s, "CMD");
        assert.deepEqual(cmd, ["run"], 'CMD must be exec-form ["run"] (the chart overrides args)');
      });

      test("copies its bundle from the build stage and its package.json into /app, nothing else", () => {
        const s = stage(t.stage);
        const workdir = s.instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.rest;
        assert.equal(workdir, "/app");
        const all = copies(s);
        const bundle = all.find((c) => c.from === "build" && c.sources.includes(`/app/${t.pkg}/dist`));
        assert.ok(bundle, `${t.pkg}/dist is not copied from the build stage`);
        assert.equal(bundle.dest, `${t.pkg}/dist`);
        const manifest = all.find((c) => c.from === undefined && c.sources.includes(`${t.pkg}/package.json`));
        assert.ok(manifest, `${t.pkg}/package.json (the version it reports) is not copied`);
        assert.equal(all.length, 2, `unexpected COPY in the ${t.stage} image: ${JSON.stringify(all)}`);
        // The build stage bundles exactly what shared/build/bundle.ts builds.
        const build = stage("build");
        assert.ok(
          build.instructions.some((i) => i.keyword === "RUN" && i.rest === "node shared/build/bundle.ts"),
          "the build stage does not run shared/build/bundle.ts",
        );
        const built = new Set(copies(build).flatMap((c) => c.sources));
        for (const dir of [`${t.pkg}/src`, "shared/src", "shared/build"]) {
          assert.ok(built.has(dir), `${dir} is not copied into the build stage`);
        }
      });

      test("its bundle runs on its own: no import outside Node's built-in modules", async () => {
        const image = await builtImageRuntime(t.stage);
        const specifiers = await externalImports(ENTRY_POINTS[t.stage].entry);
        assert.ok(
          specifiers.includes("node:http"),
          `esbuild reports not even node:http: ${specifiers.join(" ")}`,
        );
        assert.deepEqual(
          specifiers.filter((s) => !isBuiltin(s)),
          [],
          "the bundle imports packages, which the image does not have",
        );
        // Run it where no node_modules can be found: /tmp/<x>/<pkg>/dist/main.js beside its package.json.
        const dir = mkdtempSync(join(tmpdir(), "meridian-image-"));
        try {
          mkdirSync(join(dir, t.pkg, "dist"), { recursive: true });
          copyFileSync(image.script, join(dir, t.pkg, "dist", "main.js"));
          copyFileSync(join(repoRoot, t.pkg, "package.json"), join(dir, t.pkg, "package.json"));
          const out = execFileSync(
            process.execPath,
            [...image.nodeArgs, join(dir, t.pkg, "dist", "main.js"), "version"],
            { env: { ...image.env, PATH: "" }, encoding: "utf8", timeout: 30_000 },
          );
          const version = JSON.parse(readFileSync(join(repoRoot, t.pkg, "package.json"), "utf8")).version;
          assert.match(out, new RegExp(`\\b${version.replaceAll(".", "\\.")}\\b`));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      test("runs as a non-root user", () => {
        const u = user(stage(t.stage));
        assert.ok(u, "no USER: the image would run as root");
        const name = u.split(":")[0]!;
        assert.ok(name === "nonroot" || (/^\d+$/.test(name) && Number(name) !== 0), `USER ${u} is root`);
      });

      test("carries the OCI labels", () => {
        const l = labels(stage(t.stage));
        assert.equal(l["org.opencontainers.image.title"], t.title);
        for (const key of ["source", "licenses", "version", "revision", "description"]) {
          assert.ok(l[`org.opencontainers.image.${key}`], `label org.opencontainers.image.${key} missing`);
        }
      });

      test("everything its entry point imports is in the build stage and declared", (ctx) => {
        const main = join(repoRoot, t.pkg, "src", "main.ts");
        assert.ok(existsSync(main), `entry point ${t.pkg}/src/main.ts is missing`);
        const graph = importGraph(repoRoot, main);
        assert.deepEqual(graph.unresolved, [], "imports that resolve to no file");
        // Only <pkg>/src, shared/src and <pkg>/package.json (read through a JSON import) are copied.
        const outside = graph.files.filter(
          (f) =>
            !f.startsWith(`${t.pkg}/src/`) && !f.startsWith("shared/src/") && f !== `${t.pkg}/package.json`,
        );
        assert.deepEqual(outside, [], "files the image does not copy");
        // What the sources import at run time is declared by the package or by shared.
        const declared = new Set(
          [t.pkg, "shared"].flatMap((p) =>
            Object.keys(
              JSON.parse(readFileSync(join(repoRoot, p, "package.json"), "utf8")).dependencies ?? {},
            ),
          ),
        );
        const undeclared = [...graph.packages].filter(([name]) => !declared.has(name));
        assert.deepEqual(undeclared, [], "packages imported at run time but not production dependencies");
        ctx.diagnostic(
          `${graph.files.length} files, packages: ${[...graph.packages.keys()].sort().join(", ")}`,
        );
      });

      test("its code handles SIGTERM itself (node is PID 1 without tini)", () => {
        const files = [t.pkg, "shared"].flatMap((p) => walk(join(repoRoot, p, "src")));
        const handles = files
          .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
          .some((f) => /process\.(on|once)\(\s*["']SIGTERM["']/.test(readFileSync(f, "utf8")));
        assert.ok(
          handles,
          `no process.on("SIGTERM") in ${t.pkg}/src or shared/src: the pod would be SIGKILLed`,
        );
      });
    });
  }
});

describe("imageRuntime: what the node simulator runs for an image", () => {
  const text = [
    "FROM node:24 AS build",
    "FROM gcr.io/distroless/nodejs24-debian12 AS agent",
    "ENV A=1 \\",
    '    B="two words"',
    "ENV C 3",
    'ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "/app/agent/dist/main.js"]',
  ].join("\n");

  test("reads the ENTRYPOINT's node flags and script and the ENV", () => {
    const r = imageRuntime("agent", text);
    assert.deepEqual(r.nodeArgs, ["--max-semi-space-size=1"]);
    assert.equal(r.script, join(repoRoot, "agent/dist/main.js"));
    assert.deepEqual(r.env, { A: "1", B: "two words", C: "3" });
  });

  test("refuses an ENTRYPOINT that is not node running a script under /app", () => {
    assert.throws(() => imageRuntime("workspace-agent", text), /no stage workspace-agent/);
    const shell = text.replace(/ENTRYPOINT .*/, "ENTRYPOINT node /app/agent/dist/main.js");
    assert.throws(() => imageRuntime("agent", shell), /exec form/);
    const elsewhere = text.replace("/app/agent", "/srv/agent");
    assert.throws(() => imageRuntime("agent", elsewhere), /not under \/app/);
  });

  test("the real Dockerfile's images tune memory the way docs/performance.md measured", () => {
    for (const t of TARGETS) {
      const r = imageRuntime(t.stage);
      assert.ok(r.nodeArgs.includes("--max-semi-space-size=1"), `${t.stage}: ${r.nodeArgs.join(" ")}`);
      assert.equal(r.env.MALLOC_ARENA_MAX, "1");
    }
  });
});
