// What can be checked about the images without a container engine: the root Dockerfile's two final
// targets copy sources that exist and are not dockerignored, start the right entry point with exec-form
// ENTRYPOINT on a shell-less base, run as non-root, use Node 24 in every stage, carry OCI labels, and
// the entry points handle SIGTERM themselves (node is PID 1 in distroless).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
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
        assert.equal(entrypoint.at(-1), `/app/${t.pkg}/src/main.ts`);
        const cmd = execForm(s, "CMD");
        assert.deepEqual(cmd, ["run"], 'CMD must be exec-form ["run"] (the chart overrides args)');
      });

      test("copies the entry point, its package and shared into /app", () => {
        const s = stage(t.stage);
        const workdir = s.instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.rest;
        assert.equal(workdir, "/app");
        const ctx = copies(s).filter((c) => c.from === undefined);
        for (const dir of [`${t.pkg}/src`, "shared/src", `${t.pkg}/package.json`, "shared/package.json"]) {
          const c = ctx.find((cp) => cp.sources.includes(dir));
          assert.ok(c, `${dir} is not copied into the ${t.stage} image`);
          assert.ok(c.dest === dir || c.dest === `${dir.replace(/[^/]+$/, "")}`, `${dir} lands in ${c.dest}`);
        }
        const main = join(repoRoot, t.pkg, "src", "main.ts");
        assert.ok(existsSync(main) && statSync(main).isFile(), `entry point ${t.pkg}/src/main.ts is missing`);
        const deps = copies(s).filter((c) => c.from !== undefined && c.sources.includes("/app/node_modules"));
        assert.equal(deps.length, 1, "production node_modules are copied from a dependency stage");
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

      test("everything its entry point imports is in the image", (ctx) => {
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
        // npm ci --omit=dev -w <pkg> -w shared installs only these packages' dependencies.
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
