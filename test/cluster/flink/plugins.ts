// What the official Flink image's docker-entrypoint.sh does with ENABLE_BUILT_IN_PLUGINS
// (copy_plugins_from_opt): for each `;`-separated jar name, `plugins/<name without .jar>/` gets a
// link to `opt/<jar>`; a jar the image's opt/ lacks ends the container ("Plugin … does not exist.
// Exiting."). The node simulator's Flink image runs this before the JVM starts.
import { existsSync } from "node:fs";
import { mkdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";

/** The jar names ENABLE_BUILT_IN_PLUGINS lists (blanks dropped). */
export function builtInPlugins(env: Record<string, string>): string[] {
  return (env.ENABLE_BUILT_IN_PLUGINS ?? "")
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Links each listed jar of `optDir` into `pluginsDir/<name>/`; throws for one that does not exist. */
export async function enableBuiltInPlugins(
  jars: string[],
  optDir: string,
  pluginsDir: string,
): Promise<void> {
  for (const jar of jars) {
    if (jar.includes("/") || jar.startsWith("."))
      throw new Error(`ENABLE_BUILT_IN_PLUGINS names ${JSON.stringify(jar)}, which is not a jar file name`);
    const source = join(optDir, jar);
    if (!existsSync(source))
      throw new Error(
        `Plugin ${jar} does not exist. Exiting. (the Flink image's opt/ has no ${jar}: run bash test/cluster/fetch-flink.sh)`,
      );
    const dir = join(pluginsDir, jar.replace(/\.jar$/, ""));
    await mkdir(dir, { recursive: true });
    await rm(join(dir, jar), { force: true });
    await symlink(source, join(dir, jar));
  }
}
