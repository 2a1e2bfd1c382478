/**
 * Redis topologies for tests, started with the machine's `redis-server` and `redis-cli` on free
 * ports in a temporary folder: Sentinel (a master, a replica, three sentinels) and Cluster (three
 * masters made with `redis-cli --cluster create`). The data nodes require a password, so every
 * test also runs the password path. `stop()` kills every process and removes the folder; an
 * `unload` listener does the same if the test process ends first.
 */
import { until } from "./_helpers.ts";

/** The data nodes' password (sentinels have none). */
export const PASSWORD = "t0p-s3cret!pw";
/** The Sentinel master's name. */
export const MASTER = "sbmaster";

/** A running topology. */
export interface Topology {
  /** BROKER_URL without `?prefix=`. */
  readonly url: string;
  /** The data nodes' ports (Sentinel: the master first). */
  readonly dataPorts: number[];
  /** Kills one process by port, with SIGKILL. */
  kill(port: number): Promise<void>;
  /** Runs `redis-cli` against a port (with the password for a data node). */
  cli(port: number, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const taken = new Set<number>();

/** A port that is free, not handed out before, and whose cluster bus port (+10000) is free too. */
function freePorts(): number {
  for (;;) {
    const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = a.addr.port;
    a.close();
    if (port + 10000 > 65535 || taken.has(port) || taken.has(port + 10000)) continue;
    taken.add(port);
    try {
      Deno.listen({ hostname: "127.0.0.1", port: port + 10000 }).close();
      return port;
    } catch {
      // taken: try another
    }
  }
}

class Processes {
  readonly dir = Deno.makeTempDirSync({ prefix: "sb-redis-" });
  readonly children = new Map<number, Deno.ChildProcess>();
  readonly #unload = () => this.#killAll();

  constructor() {
    globalThis.addEventListener("unload", this.#unload);
  }

  spawn(port: number, args: string[]): void {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(args[0], {
        args: args.slice(1),
        cwd: this.dir,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Error("redis-server is not on PATH: install Redis to run the topology tests");
      }
      throw err;
    }
    this.children.set(port, child);
  }

  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (child === undefined) return;
    this.children.delete(port);
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }

  async cli(port: number, auth: boolean, args: string[]): Promise<string> {
    const out = await new Deno.Command("redis-cli", {
      args: [
        "-h",
        "127.0.0.1",
        "-p",
        `${port}`,
        ...(auth ? ["--no-auth-warning", "-a", PASSWORD] : []),
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  }

  /** The end of every process's log, for a failure's message. */
  logs(): string {
    const out: string[] = [];
    for (const entry of Deno.readDirSync(this.dir)) {
      if (!entry.name.endsWith(".log")) continue;
      const text = Deno.readTextFileSync(`${this.dir}/${entry.name}`);
      out.push(`--- ${entry.name}\n${text.split("\n").slice(-15).join("\n")}`);
    }
    return out.join("\n");
  }

  async stop(): Promise<void> {
    globalThis.removeEventListener("unload", this.#unload);
    await Promise.all([...this.children.keys()].map((port) => this.kill(port)));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  #killAll(): void {
    for (const child of this.children.values()) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch { /* gone */ }
  }
}

function dataArgs(port: number, extra: string[] = []): string[] {
  return [
    "redis-server",
    "--port",
    `${port}`,
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--requirepass",
    PASSWORD,
    "--masterauth",
    PASSWORD,
    "--dir",
    ".",
    ...extra,
  ];
}

async function answers(p: Processes, port: number, auth: boolean): Promise<boolean> {
  return (await p.cli(port, auth, ["PING"])).includes("PONG");
}

/**
 * Starts a master, a replica and three sentinels (quorum 2, master down after 1 s), and waits
 * until every sentinel knows the replica and the other sentinels, so a failover can happen.
 */
export async function startSentinel(): Promise<Topology> {
  const p = new Processes();
  try {
    const [master, replica] = [freePorts(), freePorts()];
    p.spawn(master, dataArgs(master, ["--dbfilename", `m${master}.rdb`]));
    p.spawn(replica, dataArgs(replica, ["--replicaof", "127.0.0.1", `${master}`]));
    const sentinels = [freePorts(), freePorts(), freePorts()];
    for (const port of sentinels) {
      const conf = `${p.dir}/sentinel-${port}.conf`;
      Deno.writeTextFileSync(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${p.dir}`,
          `logfile ${p.dir}/sentinel-${port}.log`,
          `sentinel monitor ${MASTER} 127.0.0.1 ${master} 2`,
          `sentinel auth-pass ${MASTER} ${PASSWORD}`,
          `sentinel down-after-milliseconds ${MASTER} 1000`,
          `sentinel failover-timeout ${MASTER} 5000`,
          "",
        ].join("\n"),
      );
      p.spawn(port, ["redis-server", conf, "--sentinel"]);
    }
    const ready = async () => {
      for (const port of sentinels) {
        const info = await p.cli(port, false, ["SENTINEL", "MASTER", MASTER]);
        const lines = info.split("\n").map((l) => l.trim());
        const field = (name: string) => lines[lines.indexOf(name) + 1];
        if (field("num-slaves") !== "1" || field("num-other-sentinels") !== "2") return false;
      }
      return true;
    };
    try {
      await until(ready, {
        what: "the sentinels to know the replica and each other",
        timeoutMs: 45_000,
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.logs()}`);
    }
    const hosts = sentinels.map((port) => `127.0.0.1:${port}`).join(",");
    return topology(p, `redis+sentinel://:${encodeURIComponent(PASSWORD)}@${hosts}/${MASTER}`, [
      master,
      replica,
    ], sentinels);
  } catch (err) {
    await p.stop();
    throw err;
  }
}

/** Starts three masters and makes them a cluster with `redis-cli --cluster create`. */
export async function startCluster(): Promise<Topology> {
  const p = new Processes();
  try {
    const ports = [freePorts(), freePorts(), freePorts()];
    for (const port of ports) {
      p.spawn(
        port,
        dataArgs(port, [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          `nodes-${port}.conf`,
          "--cluster-node-timeout",
          "2000",
        ]),
      );
    }
    for (const port of ports) {
      await until(() => answers(p, port, true), {
        what: `redis-server on ${port}`,
        timeoutMs: 10_000,
      });
    }
    const create = await p.cli(ports[0], true, [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-yes",
    ]);
    if (!create.includes("All 16384 slots covered")) throw new Error(`cluster create: ${create}`);
    const ok = async () => {
      for (const port of ports) {
        if (!(await p.cli(port, true, ["CLUSTER", "INFO"])).includes("cluster_state:ok")) {
          return false;
        }
      }
      return true;
    };
    await until(ok, { what: "the cluster to be ok", timeoutMs: 30_000 });
    const hosts = ports.map((port) => `127.0.0.1:${port}`).join(",");
    return topology(p, `redis+cluster://:${encodeURIComponent(PASSWORD)}@${hosts}`, ports, []);
  } catch (err) {
    await p.stop();
    throw err;
  }
}

function topology(p: Processes, url: string, dataPorts: number[], sentinels: number[]): Topology {
  return {
    url,
    dataPorts,
    kill: (port) => p.kill(port),
    cli: (port, ...args) => p.cli(port, !sentinels.includes(port), args),
    stop: () => p.stop(),
  };
}
