// Plain-text tables and number formats for `kaffix status`: padded columns, optional ANSI colour, short units.

export type Style = "green" | "yellow" | "red" | "dim" | "bold";

/** A table cell: text, and a colour applied after padding (so escape codes never skew the columns). */
export interface Cell {
  readonly text: string;
  readonly style?: Style | undefined;
}

export interface TableOptions {
  readonly color: boolean;
  /** Columns aligned to the right (numbers); the rest are aligned left. */
  readonly right?: readonly number[];
  readonly indent?: string;
}

const SGR: Record<Style, string> = { green: "32", yellow: "33", red: "31", dim: "2", bold: "1" };

export function paint(text: string, style: Style | undefined, color: boolean): string {
  return color && style !== undefined && text !== "" ? `\x1b[${SGR[style]}m${text}\x1b[0m` : text;
}

/** Lines of a table: a header row, then the rows; two spaces between columns, no trailing blanks. */
export function table(header: readonly string[], rows: readonly (readonly (string | Cell)[])[], options: TableOptions): string[] {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === "string" ? { text: cell } : cell)));
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((row) => row[i]?.text.length ?? 0)));
  const right = new Set(options.right ?? []);
  const indent = options.indent ?? "  ";
  const line = (row: readonly Cell[], headerRow: boolean) =>
    (
      indent +
      widths
        .map((width, i) => {
          const cell = row[i] ?? { text: "" };
          const padding = " ".repeat(width - cell.text.length);
          const text = paint(cell.text, headerRow ? "dim" : cell.style, options.color);
          return right.has(i) ? padding + text : text + padding;
        })
        .join("  ")
    ).trimEnd();
  return [line(header.map((text) => ({ text })), true), ...cells.map((row) => line(row, false))];
}

/** Messages per second: one decimal below 10, whole numbers above; "0" for nothing. */
export function formatRate(perSec: number): string {
  if (!(perSec > 0)) return "0";
  if (perSec < 0.1) return "<0.1";
  return perSec < 10 ? perSec.toFixed(1) : String(Math.round(perSec));
}

/** Milliseconds with two significant digits below 10 ms ("0.37", "4.2"), whole above ("120"). */
export function formatMs(ms: number): string {
  if (!(ms > 0)) return "0";
  if (ms < 0.01) return "<0.01";
  if (ms < 1) return ms.toFixed(2);
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

export function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  if (gib >= 1) return `${gib >= 10 ? Math.round(gib) : gib.toFixed(1)} GiB`;
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** How long before `now` an ISO time was: "4 s ago", "3 min ago", "2 h ago"; "just now" for the future (clock skew). */
export function formatAgo(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return "?";
  const seconds = Math.round((now - at) / 1000);
  if (seconds <= 0) return "just now";
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** The time of day of an ISO time in UTC, "16:11:25", so that output does not depend on the machine's zone. */
export function formatClock(iso: string): string {
  const match = /T(\d\d:\d\d:\d\d)/.exec(iso);
  return match === null ? iso : `${match[1]} UTC`;
}
