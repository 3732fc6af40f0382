// Every process group the simulator started, so that stop() — and, as a last
// resort, this process's exit — leaves nothing behind. Each container runs as
// the leader of its own process group (spawn's `detached`), and signals go to
// the whole group, the way a kubelet tears down a container's cgroup.
export class ProcessTable {
  readonly #groups = new Set<number>();
  readonly #onExit = () => this.signalAll("SIGKILL");

  constructor() {
    process.on("exit", this.#onExit);
  }

  add(pid: number): void {
    this.#groups.add(pid);
  }

  delete(pid: number): void {
    this.#groups.delete(pid);
  }

  get pids(): number[] {
    return [...this.#groups];
  }

  signalAll(signal: NodeJS.Signals): void {
    for (const pid of this.#groups) signalGroup(pid, signal);
  }

  dispose(): void {
    process.off("exit", this.#onExit);
  }
}

/** Sends `signal` to process group `pid`; false when no process of the group is left. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while a process with this pid exists (and is not a zombie we could see). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
