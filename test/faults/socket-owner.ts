// Which process owns the client end of a loopback TCP connection, from /proc: the fault proxy knows a
// connection's client port, /proc/net/tcp maps that port (with the proxy's port as the peer) to a
// socket inode, and /proc/<pid>/fd names the process holding that inode. Lets the campaign cut off
// one agent replica (the leader) from the API server while the other keeps its path.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The socket inode of the TCP connection from local port `clientPort` to `serverPort`, if any. */
export function socketInode(clientPort: number, serverPort: number): string | undefined {
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = Number.parseInt(f[1]!.split(":")[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(":")[1]!, 16);
      if (local === clientPort && remote === serverPort) return f[9];
    }
  }
  return undefined;
}

/** Whether one of `pids` holds the socket with `inode`. */
export function ownsSocket(pids: number[], inode: string): boolean {
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return true;
      } catch {}
    }
  }
  return false;
}

/** A proxy connection selector: connections to `serverPort` whose client end belongs to `pids`. */
export function connectionsOf(pids: number[], serverPort: number): (c: { clientPort: number }) => boolean {
  return (c) => {
    const inode = socketInode(c.clientPort, serverPort);
    return inode !== undefined && ownsSocket(pids, inode);
  };
}
