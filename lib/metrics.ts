/**
 * Counters for /metrics, in the Prometheus text format. Plain numbers incremented in place: the
 * hot path allocates nothing for metrics; the text is built only when /metrics is scraped.
 */

/** Requests of one command, by code, with total handler time. */
interface CommandCounts {
  byCode: Map<number, number>;
  seconds: number;
}

/** The server's counters. */
export class Metrics {
  framesIn = 0;
  badFrames = 0;
  rateLimited = 0;
  tooLarge = 0;
  connectionsTotal = 0;
  connectionsRefused = 0;
  /** Recoveries (sub with `recover`) that returned everything missed, and those that could not. */
  historyRecovered = 0;
  historyNotRecovered = 0;
  readonly send = { sent: 0, dropped: 0, slowClosed: 0 };
  readonly #commands = new Map<string, CommandCounts>();

  /**
   * Counts one finished request.
   *
   * @param command The command's name.
   * @param code The final reply's code.
   * @param ms The handler's time.
   */
  countRequest(command: string, code: number, ms: number): void {
    let c = this.#commands.get(command);
    if (c === undefined) {
      if (this.#commands.size >= 1000) return; // unknown names must not grow the map forever
      this.#commands.set(command, c = { byCode: new Map(), seconds: 0 });
    }
    c.byCode.set(code, (c.byCode.get(code) ?? 0) + 1);
    c.seconds += ms / 1000;
  }

  /**
   * The counters by their /metrics name (without the `switchboard_` prefix), with
   * `requests_total` summed over commands and codes: plain numbers for the console's charts.
   *
   * @returns A fresh object; counters only grow.
   */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, , value] of this.#plain()) out[name] = value;
    let requests = 0;
    for (const c of this.#commands.values()) for (const n of c.byCode.values()) requests += n;
    out.requests_total = requests;
    return out;
  }

  /** The counters without labels: name, help text, value. */
  #plain(): [string, string, number][] {
    return [
      ["frames_received_total", "Frames received from clients", this.framesIn],
      ["frames_rejected_total", "Frames answered with an error before routing", this.badFrames],
      ["rate_limited_total", "Messages refused with 429", this.rateLimited],
      ["too_large_total", "Frames refused with 413", this.tooLarge],
      ["connections_total", "Connections accepted", this.connectionsTotal],
      ["connections_refused_total", "Connections refused", this.connectionsRefused],
      ["messages_sent_total", "Messages handed to sockets", this.send.sent],
      ["messages_dropped_total", "Messages dropped for slow clients", this.send.dropped],
      ["slow_clients_closed_total", "Clients closed for not reading", this.send.slowClosed],
      [
        "history_recovered_total",
        "Recoveries that returned everything missed",
        this.historyRecovered,
      ],
      [
        "history_not_recovered_total",
        "Recoveries answered recovered: false",
        this.historyNotRecovered,
      ],
    ];
  }

  /**
   * Renders every counter and the gauges given.
   *
   * @param gauges Current values (connections, subscriptions, pool state…) by metric name.
   * @returns The Prometheus text exposition.
   */
  render(gauges: Record<string, number>): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(
        `# HELP switchboard_${name} ${help}`,
        `# TYPE switchboard_${name} ${type}`,
        ...lines,
      );
    };
    const one = (name: string, type: string, help: string, value: number) =>
      metric(name, type, help, [`switchboard_${name} ${value}`]);
    for (const [name, help, value] of this.#plain()) one(name, "counter", help, value);
    const requests: string[] = [];
    const seconds: string[] = [];
    for (const [name, c] of this.#commands) {
      for (const [code, n] of c.byCode) {
        requests.push(`switchboard_requests_total{command=${label(name)},code="${code}"} ${n}`);
      }
      seconds.push(
        `switchboard_request_seconds_total{command=${label(name)}} ${c.seconds.toFixed(6)}`,
      );
    }
    metric("requests_total", "counter", "Requests by command and final code", requests);
    metric("request_seconds_total", "counter", "Handler time by command", seconds);
    for (const [name, value] of Object.entries(gauges)) {
      one(name, name.endsWith("_total") ? "counter" : "gauge", name.replaceAll("_", " "), value);
    }
    return out.join("\n") + "\n";
  }
}

function label(value: string): string {
  return JSON.stringify(value);
}
