// The chart of bench/compare.ts: Kaffix's advantage over Moleculer per row, log-scale bars around a line at 1×, as plain SVG.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Ratio } from "./compare-report.js";

const WIDTH = 880;
const LABEL_WIDTH = 330;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 130; // room for the value at a bar's end
const ROW_HEIGHT = 26;
const BAR_HEIGHT = 14;
/** A rough width of one character at 12 px, to keep a value clear of the labels. */
const CHAR_WIDTH = 6.5;
const TOP = 64;
const BOTTOM = 44;
const COLORS = { better: "#2f7d4f", worse: "#c0392b", aim: "#222", axis: "#999", grid: "#e4e4e4", text: "#222", muted: "#666" } as const;

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const fixed = (n: number) => Number(n.toFixed(1));

/** Ticks of a log axis: 1, 2, 5 of each decade within [low, high]. */
function ticks(low: number, high: number): number[] {
  const out: number[] = [];
  for (let decade = Math.floor(Math.log10(low)); decade <= Math.ceil(Math.log10(high)); decade++) {
    for (const step of [1, 2, 5]) {
      const tick = step * 10 ** decade;
      if (tick >= low * 0.999 && tick <= high * 1.001) out.push(tick);
    }
  }
  return out;
}

const tickLabel = (tick: number) => `${tick >= 1 ? tick.toFixed(0) : String(Number(tick.toPrecision(1)))}×`;

/** The chart as an SVG document. `subtitle` says how it was measured. */
export function ratioChart(ratios: readonly Ratio[], title: string, subtitle: string): string {
  const values = ratios.flatMap((r) => [r.advantage, r.aim ?? 1]);
  const low = 10 ** Math.floor(Math.log10(Math.min(0.5, ...values)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(2, ...values)));
  const x = (value: number) => PLOT_LEFT + ((Math.log10(value) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (PLOT_RIGHT - PLOT_LEFT);
  const height = TOP + ratios.length * ROW_HEIGHT + BOTTOM;
  const plotBottom = TOP + ratios.length * ROW_HEIGHT;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600" fill="${COLORS.text}">${escape(title)}</text>`,
    `<text x="12" y="40" fill="${COLORS.muted}">${escape(subtitle)}</text>`,
  ];
  for (const tick of ticks(low, high)) {
    const tx = fixed(x(tick));
    parts.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${plotBottom}" stroke="${COLORS.grid}"/>`);
    parts.push(`<text x="${tx}" y="${plotBottom + 16}" text-anchor="middle" fill="${COLORS.muted}">${tickLabel(tick)}</text>`);
  }
  const one = fixed(x(1));
  ratios.forEach((ratio, i) => {
    const y = TOP + i * ROW_HEIGHT;
    const mid = y + ROW_HEIGHT / 2;
    const end = fixed(x(Math.min(high, Math.max(low, ratio.advantage))));
    const better = ratio.advantage >= 1;
    parts.push(`<text x="${LABEL_WIDTH}" y="${mid + 4}" text-anchor="end" fill="${COLORS.text}">${escape(ratio.label)}</text>`);
    parts.push(`<rect x="${Math.min(one, end)}" y="${fixed(mid - BAR_HEIGHT / 2)}" width="${fixed(Math.max(1, Math.abs(end - one)))}" height="${BAR_HEIGHT}" fill="${better ? COLORS.better : COLORS.worse}"/>`);
    if (ratio.aim !== undefined) {
      const ax = fixed(x(ratio.aim));
      parts.push(`<line x1="${ax}" y1="${mid - BAR_HEIGHT / 2 - 3}" x2="${ax}" y2="${mid + BAR_HEIGHT / 2 + 3}" stroke="${COLORS.aim}" stroke-width="2"/>`);
    }
    // The value goes past the bar's end (and past the aim mark); a bar going left gets it on its left if there is room.
    const textWidth = ratio.reading.length * CHAR_WIDTH;
    if (!better && end - 6 - textWidth >= PLOT_LEFT) {
      parts.push(`<text x="${fixed(end - 6)}" y="${mid + 4}" text-anchor="end" fill="${COLORS.text}">${escape(ratio.reading)}</text>`);
    } else {
      const valueX = Math.max(end, one, ratio.aim === undefined ? end : fixed(x(ratio.aim))) + 6;
      parts.push(`<text x="${valueX}" y="${mid + 4}" fill="${COLORS.text}">${escape(ratio.reading)}</text>`);
    }
  });
  parts.push(`<line x1="${one}" y1="${TOP - 10}" x2="${one}" y2="${plotBottom}" stroke="${COLORS.text}" stroke-width="1.5"/>`);
  parts.push(`<text x="${one}" y="${TOP - 14}" text-anchor="middle" fill="${COLORS.text}">1× (equal)</text>`);
  const legendY = plotBottom + 34;
  parts.push(
    `<rect x="12" y="${legendY - 9}" width="12" height="10" fill="${COLORS.better}"/><text x="28" y="${legendY}" fill="${COLORS.muted}">Kaffix better</text>`,
    `<rect x="120" y="${legendY - 9}" width="12" height="10" fill="${COLORS.worse}"/><text x="136" y="${legendY}" fill="${COLORS.muted}">Moleculer better</text>`,
    `<line x1="250" y1="${legendY - 10}" x2="250" y2="${legendY + 2}" stroke="${COLORS.aim}" stroke-width="2"/><text x="258" y="${legendY}" fill="${COLORS.muted}">the issue's aim</text>`,
    `<text x="${WIDTH - 12}" y="${legendY}" text-anchor="end" fill="${COLORS.muted}">rates: Kaffix ÷ Moleculer; latency, memory, time: Moleculer ÷ Kaffix (log scale)</text>`,
  );
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

export function writeChart(path: string, svg: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`; // written whole, then renamed
  writeFileSync(tmp, svg);
  renameSync(tmp, path);
}
