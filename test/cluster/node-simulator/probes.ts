// Container probes: httpGet (to podIP:port/path; HTTPS without verification),
// tcpSocket and exec (the command run through spawn with the container's env).
// grpc probes are not supported and count as success. Periods are capped at 1 s
// to keep tests fast; for liveness and startup probes the failure threshold is
// scaled up so that the failure window (threshold x period) stays what the pod
// asked for and a slow-starting process is not killed earlier than on a real kubelet.
import { spawn } from "node:child_process";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { V1Container, V1Probe } from "@kubernetes/client-node";

export const MAX_PROBE_PERIOD_MS = 1000;

export interface ProbeTarget {
  podIP: string;
  container: V1Container;
  env: Record<string, string>;
  cwd: string;
}

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeTiming(probe: V1Probe, kind: "readiness" | "liveness" | "startup"): ProbeTiming {
  const realPeriod = (probe.periodSeconds ?? 10) * 1000;
  const periodMs = Math.min(realPeriod, MAX_PROBE_PERIOD_MS);
  const failureThreshold = probe.failureThreshold ?? 3;
  const initial = (probe.initialDelaySeconds ?? 0) * 1000;
  return {
    // A readiness probe that fires early only delays readiness; liveness keeps its delay.
    initialDelayMs: kind === "readiness" ? Math.min(initial, 1000) : initial,
    periodMs,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: kind === "readiness" ? (probe.successThreshold ?? 1) : 1,
    failureThreshold:
      kind === "readiness" ? failureThreshold : Math.ceil((failureThreshold * realPeriod) / periodMs),
  };
}

function resolvePort(port: number | string | undefined, container: V1Container): number {
  if (typeof port === "number") return port;
  if (port !== undefined && /^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port ${String(port)} is not a container port name`);
  return named.containerPort;
}

/** Runs one probe; resolves true on success. Never rejects. */
export async function runProbe(probe: V1Probe, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  try {
    if (probe.httpGet) return await httpProbe(probe, target, timeoutMs);
    if (probe.tcpSocket) return await tcpProbe(probe, target, timeoutMs);
    if (probe.exec) return await execProbe(probe.exec.command ?? [], target, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

function httpProbe(probe: V1Probe, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  const g = probe.httpGet!;
  const port = resolvePort(g.port as number | string, target.container);
  const headers: Record<string, string> = {};
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  const lib = g.scheme === "HTTPS" ? https : http;
  return new Promise((resolve) => {
    const req = lib.get(
      {
        host: g.host || target.podIP,
        port,
        path: g.path ?? "/",
        headers,
        timeout: timeoutMs,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      },
    );
    req.on("timeout", () => req.destroy(new Error("probe timeout")));
    req.on("error", () => resolve(false));
  });
}

function tcpProbe(probe: V1Probe, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  const port = resolvePort(probe.tcpSocket!.port as number | string, target.container);
  return new Promise((resolve) => {
    const sock = net.connect({ host: probe.tcpSocket!.host || target.podIP, port, timeout: timeoutMs });
    sock.on("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.on("timeout", () => {
      sock.destroy();
      resolve(false);
    });
    sock.on("error", () => resolve(false));
  });
}

function execProbe(command: string[], target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  if (command.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), {
      env: target.env,
      cwd: target.cwd,
      stdio: "ignore",
      detached: true,
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, timeoutMs);
    child.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

/**
 * Runs a probe periodically and reports threshold crossings: `onChange(true)` after
 * `successThreshold` consecutive successes, `onChange(false)` after `failureThreshold`
 * consecutive failures (each reported once per crossing).
 */
export class ProbeLoop {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #successes = 0;
  #failures = 0;
  #state: boolean | undefined;

  readonly probe: V1Probe;
  readonly timing: ProbeTiming;
  readonly target: () => ProbeTarget;
  readonly onChange: (ok: boolean) => void;

  constructor(
    probe: V1Probe,
    timing: ProbeTiming,
    target: () => ProbeTarget,
    onChange: (ok: boolean) => void,
  ) {
    this.probe = probe;
    this.timing = timing;
    this.target = target;
    this.onChange = onChange;
    this.#timer = setTimeout(() => this.#tick(), timing.initialDelayMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const started = Date.now();
    const ok = await runProbe(this.probe, this.target(), this.timing.timeoutMs);
    if (this.#stopped) return;
    if (ok) {
      this.#successes++;
      this.#failures = 0;
      if (this.#successes >= this.timing.successThreshold && this.#state !== true) {
        this.#state = true;
        this.onChange(true);
      }
    } else {
      this.#failures++;
      this.#successes = 0;
      if (this.#failures >= this.timing.failureThreshold && this.#state !== false) {
        this.#state = false;
        this.onChange(false);
      }
    }
    if (this.#stopped) return;
    const wait = Math.max(0, this.timing.periodMs - (Date.now() - started));
    this.#timer = setTimeout(() => this.#tick(), wait);
  }
}
