// Unit tests of the Flink image's pure parts: argv/env/config -> JVM command line, config merging,
// path mapping and memory sizing. No JVM is started here (flink.test.ts does that).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FlinkCommandInput, flinkCommand, MAIN_CLASSES } from "./flink-command.ts";
import { mapContainerPath, parseFlinkProperties, parseFlinkYaml, renderFlinkYaml } from "./flink-config.ts";
import { jobManagerMemory, parseQuantityBytes, taskManagerMemory } from "./flink-memory.ts";
import { FLINK_IMAGE_PATTERNS, flinkImageHandler } from "./image-handler.ts";

const GiB = 1024 ** 3;

function input(over: Partial<FlinkCommandInput> = {}): FlinkCommandInput {
  return {
    argv: ["standalone-job", "--job-classname", "org.example.Job"],
    env: {},
    config: { "jobmanager.rpc.address": "flink-jm" },
    podIP: "127.0.1.7",
    namespace: "ns1",
    hostsFile: "/sim/hosts",
    flinkHome: "/cache/flink/2.3.0",
    confDir: "/pods/jm/conf",
    tmpDir: "/pods/jm/tmp",
    paths: { volumeDirs: {}, dataDir: "/data" },
    java: "/usr/bin/java",
    ...over,
  };
}

/** The arguments after the main class. */
function programArgs(args: string[], mainClass: string): string[] {
  return args.slice(args.indexOf(mainClass) + 1);
}

describe("flinkCommand", () => {
  it("runs standalone-job as the application entry point, conf dir first, job args untouched", () => {
    const cmd = flinkCommand(input({ argv: ["standalone-job", "--job-classname", "a.B", "--speed", "3"] }));
    assert.equal(cmd.role, "standalone-job");
    assert.equal(cmd.command, "/usr/bin/java");
    assert.equal(cmd.mainClass, MAIN_CLASSES["standalone-job"]);
    assert.deepEqual(programArgs(cmd.args, cmd.mainClass), [
      "--configDir",
      "/pods/jm/conf",
      "--job-classname",
      "a.B",
      "--speed",
      "3",
    ]);
    const cp = cmd.args[cmd.args.indexOf("-classpath") + 1];
    assert.equal(cp, "/cache/flink/2.3.0/lib/*");
    assert.equal(cmd.env.FLINK_HOME, "/cache/flink/2.3.0");
    assert.equal(cmd.env.FLINK_CONF_DIR, "/pods/jm/conf");
  });

  it("accepts the image entrypoint as argv[0] and picks each role's main class", () => {
    for (const role of ["jobmanager", "taskmanager"] as const) {
      const cmd = flinkCommand(input({ argv: ["/docker-entrypoint.sh", role] }));
      assert.equal(cmd.role, role);
      assert.ok(cmd.args.includes(MAIN_CLASSES[role]));
    }
  });

  it("refuses argv the entrypoint would pass through", () => {
    assert.throws(() => flinkCommand(input({ argv: ["bash", "-c", "sleep 1"] })), /not supported/);
    assert.throws(() => flinkCommand(input({ argv: [] })), /not supported/);
  });

  it("binds the JobManager to the pod IP and qualifies a bare RPC address with the namespace", () => {
    const { config, args } = flinkCommand(input());
    assert.equal(config["jobmanager.rpc.address"], "flink-jm.ns1.svc");
    assert.equal(config["jobmanager.bind-host"], "127.0.1.7");
    assert.equal(config["rest.bind-address"], "127.0.1.7");
    assert.equal(config["rest.address"], "flink-jm.ns1.svc");
    assert.equal(config["blob.server.port"], "6124");
    assert.equal(config["taskmanager.host"], undefined);
    assert.ok(args.includes("-Djdk.net.hosts.file=/sim/hosts"));
  });

  it("binds and advertises the TaskManager on the pod IP", () => {
    const { config } = flinkCommand(input({ argv: ["taskmanager"] }));
    assert.equal(config["taskmanager.bind-host"], "127.0.1.7");
    assert.equal(config["taskmanager.host"], "127.0.1.7");
    assert.equal(config["jobmanager.bind-host"], undefined);
    assert.equal(config["taskmanager.cpu.cores"], "1");
  });

  it("keeps qualified names, IPs and localhost as they are", () => {
    for (const host of ["jm.other.svc", "jm.other.svc.cluster.local", "10.0.0.1", "localhost"]) {
      const config = { "jobmanager.rpc.address": host, "rest.address": host };
      const out = flinkCommand(input({ config })).config;
      assert.equal(out["jobmanager.rpc.address"], host);
      assert.equal(out["rest.address"], host);
    }
  });

  it("takes JOB_MANAGER_RPC_ADDRESS over config, and the pod IP when neither is set", () => {
    const env = { JOB_MANAGER_RPC_ADDRESS: "jm-svc.ns" };
    assert.equal(flinkCommand(input({ env })).config["jobmanager.rpc.address"], "jm-svc.ns");
    assert.equal(flinkCommand(input({ config: {} })).config["jobmanager.rpc.address"], "127.0.1.7");
  });

  it("applies TASK_MANAGER_NUMBER_OF_TASK_SLOTS and then FLINK_PROPERTIES over config.yaml", () => {
    const env = {
      TASK_MANAGER_NUMBER_OF_TASK_SLOTS: "4",
      FLINK_PROPERTIES:
        "parallelism.default: 3\n\n taskmanager.numberOfTaskSlots: 2\nstate.savepoints.dir: $SP",
      SP: "file:///flink-data/sp",
    };
    const { config } = flinkCommand(
      input({ argv: ["taskmanager"], env, config: { "parallelism.default": "1" } }),
    );
    assert.equal(config["parallelism.default"], "3");
    assert.equal(config["taskmanager.numberOfTaskSlots"], "2");
    assert.equal(config["taskmanager.cpu.cores"], "2");
    assert.equal(config["state.savepoints.dir"], "file:///data/flink-data/sp");
    assert.equal(config["execution.checkpointing.savepoint-dir"], "file:///data/flink-data/sp");
  });

  it("maps savepoint dirs through pod volumes first, then under the shared data dir", () => {
    const paths = { volumeDirs: { "/flink-data": "/claims/ns/pvc" }, dataDir: "/data" };
    const config = {
      "execution.checkpointing.savepoint-dir": "file:///flink-data/savepoints",
      "execution.checkpointing.dir": "/checkpoints",
      "high-availability.storageDir": "s3://bucket/ha",
    };
    const out = flinkCommand(input({ config, paths })).config;
    assert.equal(out["execution.checkpointing.savepoint-dir"], "file:///claims/ns/pvc/savepoints");
    assert.equal(out["execution.checkpointing.dir"], "/data/checkpoints");
    assert.equal(out["high-availability.storageDir"], "s3://bucket/ha");
  });

  it("maps --fromSavepoint and file: job arguments, leaving other arguments alone", () => {
    const argv = [
      "standalone-job",
      "--job-classname",
      "a.B",
      "--fromSavepoint",
      "/flink-data/savepoints/savepoint-1",
      "--allowNonRestoredState",
      "--output",
      "file:///out/x",
      "--input",
      "/etc/x",
    ];
    const cmd = flinkCommand(input({ argv }));
    assert.deepEqual(programArgs(cmd.args, cmd.mainClass).slice(2), [
      "--job-classname",
      "a.B",
      "--fromSavepoint",
      "/data/flink-data/savepoints/savepoint-1",
      "--allowNonRestoredState",
      "--output",
      "file:///data/out/x",
      "--input",
      "/etc/x",
    ]);
    const eq = flinkCommand(input({ argv: ["standalone-job", "--fromSavepoint=file:/sp/1"] }));
    assert.ok(eq.args.includes("--fromSavepoint=file:///data/sp/1"));
    const dynamic = flinkCommand(input({ argv: ["taskmanager", "-Dx.dir=file:///x", "-Dy=/y"] }));
    assert.deepEqual(dynamic.args.slice(-2), ["-Dx.dir=file:///data/x", "-Dy=/y"]);
  });

  it("restores from a savepoint where it is when it exists on this machine as given", () => {
    const exists = (p: string) => p === "/flink-data/sp/savepoint-1";
    const paths = { volumeDirs: {}, dataDir: "/data", exists };
    const argv = ["standalone-job", "--fromSavepoint", "file:/flink-data/sp/savepoint-1", "-s", "/other"];
    const { args } = flinkCommand(input({ argv, paths }));
    assert.deepEqual(args.slice(-4), [
      "--fromSavepoint",
      "file:/flink-data/sp/savepoint-1",
      "-s",
      "/data/other",
    ]);
  });

  it("sizes memory from the container limit, capped per role, with matching JVM flags", () => {
    const jm = flinkCommand(input({ memoryLimitBytes: 4 * GiB }));
    assert.equal(jm.processMiB, 1024);
    assert.equal(jm.config["jobmanager.memory.process.size"], "1024m");
    assert.ok(jm.args.includes(`-Xmx${parseInt(jm.config["jobmanager.memory.heap.size"]!, 10)}m`));
    const tm = flinkCommand(input({ argv: ["taskmanager"], memoryLimitBytes: 4 * GiB }));
    assert.equal(tm.processMiB, 1536);
    const small = flinkCommand(input({ argv: ["taskmanager"], memoryLimitBytes: 256 * 1024 * 1024 }));
    assert.equal(small.processMiB, 1024, "raised to the floor Flink needs");
    const fromConfig = flinkCommand(input({ config: { "jobmanager.memory.process.size": "700m" } }));
    assert.equal(fromConfig.processMiB, 700, "no limit: the configured size");
  });

  it("replaces configured fine-grained memory options with consistent ones", () => {
    const config = { "taskmanager.memory.managed.size": "8g", "taskmanager.memory.task.heap.size": "4g" };
    const { config: out } = flinkCommand(input({ argv: ["taskmanager"], config, memoryLimitBytes: GiB }));
    assert.notEqual(out["taskmanager.memory.managed.size"], "8g");
    assert.notEqual(out["taskmanager.memory.task.heap.size"], "4g");
  });

  it("adds env.java.opts from the configuration after its own flags", () => {
    const config = { "env.java.opts.all": "-Dall=1", "env.java.opts.taskmanager": "-Dtm=1 -Dtm2=2" };
    const { args } = flinkCommand(input({ argv: ["taskmanager"], config }));
    const main = args.indexOf(MAIN_CLASSES.taskmanager);
    for (const flag of ["-Dall=1", "-Dtm=1", "-Dtm2=2"]) {
      assert.ok(args.indexOf(flag) > 0 && args.indexOf(flag) < main, flag);
    }
    assert.ok(!flinkCommand(input({ config })).args.includes("-Dtm=1"), "not on the JobManager");
  });
});

describe("Flink configuration files", () => {
  it("flattens nested config.yaml and writes it back flat", () => {
    const text =
      "jobmanager:\n  rpc:\n    address: jm\n    port: 6123\nenv.java.opts.all: -Da=1\nlist: [a, b]\n";
    const config = parseFlinkYaml(text);
    assert.deepEqual(config, {
      "jobmanager.rpc.address": "jm",
      "jobmanager.rpc.port": "6123",
      "env.java.opts.all": "-Da=1",
      list: "a;b",
    });
    assert.deepEqual(parseFlinkYaml(renderFlinkYaml(config)), config);
    assert.deepEqual(parseFlinkYaml(""), {});
    assert.throws(() => parseFlinkYaml("a: [1"), /not valid YAML/);
  });

  it("parses FLINK_PROPERTIES like docker-entrypoint.sh (whitespace dropped, first colon splits)", () => {
    const braced = ["$", "{P}"].join(""); // the ${VAR} form, not a template placeholder
    const props = parseFlinkProperties(["a.b: x y", `url: http://h:1/${braced}$Q`, ""].join("\n"), {
      P: "p",
      Q: "q",
    });
    assert.deepEqual(props, { "a.b": "xy", url: "http://h:1/pq" });
  });

  it("leaves local paths and other schemes alone", () => {
    const m = { volumeDirs: { "/mnt/v": "/pods/p/volumes/v" }, dataDir: "/data" };
    assert.equal(mapContainerPath("/data/sp/1", m), "/data/sp/1");
    assert.equal(mapContainerPath("file:/pods/p/volumes/v/x", m), "file:///pods/p/volumes/v/x");
    assert.equal(mapContainerPath("/mnt/v/x", m), "/pods/p/volumes/v/x");
    assert.equal(mapContainerPath("/mnt/vx", m), "/data/mnt/vx");
    assert.equal(mapContainerPath("s3://b/k", m), "s3://b/k");
    assert.equal(mapContainerPath("relative/x", m), "relative/x");
  });
});

describe("memory", () => {
  it("parses Kubernetes quantities", () => {
    assert.equal(parseQuantityBytes("1Gi"), GiB);
    assert.equal(parseQuantityBytes("1500Mi"), 1500 * 1024 * 1024);
    assert.equal(parseQuantityBytes("2G"), 2e9);
    assert.equal(parseQuantityBytes("1e9"), 1e9);
    assert.throws(() => parseQuantityBytes("lots"), /quantity/);
  });

  it("splits process memory into components that add up", () => {
    for (const p of [640, 1024]) {
      const c = jobManagerMemory(p).config;
      const sum = ["heap.size", "off-heap.size", "jvm-metaspace.size", "jvm-overhead.max"]
        .map((k) => parseInt(c[`jobmanager.memory.${k}`]!, 10))
        .reduce((a, b) => a + b);
      assert.equal(sum, p);
    }
    for (const p of [1024, 1536]) {
      const c = taskManagerMemory(p).config;
      const keys = ["framework.heap", "framework.off-heap", "task.heap", "task.off-heap", "managed"]
        .map((k) => `${k}.size`)
        .concat(["network.max", "jvm-metaspace.size", "jvm-overhead.max"]);
      const sum = keys.map((k) => parseInt(c[`taskmanager.memory.${k}`]!, 10)).reduce((a, b) => a + b);
      assert.equal(sum, p);
    }
    assert.throws(() => jobManagerMemory(300), /≥ 640m/);
  });
});

describe("flinkImageHandler", () => {
  it("matches the official image under any registry and configured extra images", () => {
    const h = flinkImageHandler({ dataDir: "/data", images: ["registry.local/team/streaming:*"] });
    for (const image of ["flink:2.3", "flink", "docker.io/library/flink:2.1-java17", "ghcr.io/x/flink:1"]) {
      assert.ok(h.matches(image), image);
    }
    assert.ok(h.matches("registry.local/team/streaming:v1"));
    assert.ok(!h.matches("ghcr.io/meridian/flink-agent:1"));
    assert.ok(!h.matches("busybox"));
    assert.ok(FLINK_IMAGE_PATTERNS.length > 0);
  });
});
