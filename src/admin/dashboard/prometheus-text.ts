// Reads the samples of a Prometheus text exposition (what GET /metrics serves) back into numbers.

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * The samples whose metric name is in `names`; other lines are skipped unparsed, which keeps the
 * cost proportional to what the caller wants. A malformed line is skipped, never thrown on.
 */
export function readSamples(text: string, names: ReadonlySet<string>): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const name = NAME.exec(line)?.[0];
    if (name === undefined || !names.has(name)) continue;
    const sample = readLine(line, name);
    if (sample !== undefined) out.push(sample);
  }
  return out;
}

function readLine(line: string, name: string): PromSample | undefined {
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    for (;;) {
      while (line[at] === " " || line[at] === ",") at++;
      if (line[at] === "}") {
        at++;
        break;
      }
      const label = LABEL_NAME.exec(line.slice(at))?.[0];
      if (label === undefined || line[at + label.length] !== "=" || line[at + label.length + 1] !== '"') return undefined;
      at += label.length + 2;
      let value = "";
      for (;;) {
        const c = line[at];
        if (c === undefined) return undefined;
        at++;
        if (c === '"') break;
        if (c === "\\") {
          const next = line[at++];
          value += next === "n" ? "\n" : (next ?? "");
        } else {
          value += c;
        }
      }
      labels[label] = value;
    }
  }
  const rest = line.slice(at).trim().split(/\s+/);
  const value = parseValue(rest[0]);
  return value === undefined ? undefined : { name, labels, value };
}

function parseValue(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  const value = Number(text);
  return Number.isNaN(value) && text !== "NaN" ? undefined : value;
}
