import { Canvas, CHAR_HEIGHT, type Rgb, textWidth } from "./png.js";

/** Line charts of a measure against concurrency, side by side, as one PNG. */

export interface Series {
  readonly label: string;
  readonly color: Rgb;
  /** Points with a NaN y are left out. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** "log2" (the default): x positions to label are xTicks, from the first to the last. "linear": from 0, ticks chosen here. */
  readonly xScale?: "log2" | "linear";
  readonly xTicks?: readonly number[];
  readonly series: readonly Series[];
  /** A logarithmic y axis, for measures spanning decades (latencies). */
  readonly logY?: boolean;
}

export const BLUE: Rgb = [31, 119, 180];
export const ORANGE: Rgb = [230, 120, 20];
export const GREEN: Rgb = [44, 160, 44];
export const RED: Rgb = [200, 40, 40];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [200, 200, 200];

const PANEL_WIDTH = 560;
const HEIGHT = 500;
const MARGIN = { left: 90, right: 24, top: 80, bottom: 74 };

export function chartPng(title: string, subtitle: string, panels: readonly Panel[]): Buffer {
  const canvas = new Canvas(PANEL_WIDTH * panels.length, HEIGHT);
  canvas.text(16, 12, title, INK, 2);
  canvas.text(16, 34, subtitle, [90, 90, 90], 1);
  for (const [i, panel] of panels.entries()) drawPanel(canvas, panel, i * PANEL_WIDTH);
  return canvas.toPng();
}

function drawPanel(canvas: Canvas, panel: Panel, left: number): void {
  const x0 = left + MARGIN.left;
  const x1 = left + PANEL_WIDTH - MARGIN.right;
  const y0 = HEIGHT - MARGIN.bottom;
  const y1 = MARGIN.top;
  const values = panel.series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => Number.isFinite(y));
  const yTicks = panel.logY ? logTicks(values) : linearTicks(values);
  const linearX = panel.xScale === "linear";
  const xTicks = linearX
    ? linearTicks(panel.series.flatMap((s) => s.points.map((p) => p.x)))
    : (panel.xTicks ?? []);
  const scaleX = linearX ? (x: number) => x : Math.log2;
  const xMin = scaleX(xTicks[0]);
  const xMax = scaleX(xTicks[xTicks.length - 1]);
  const px = (x: number) => x0 + ((scaleX(x) - xMin) / (xMax - xMin)) * (x1 - x0);
  // The legend sits in the top left corner: ticks are added on top until no point is under it.
  const legendWidth = Math.max(...panel.series.map((s) => textWidth(s.label))) + 54;
  const legendHeight = panel.series.length * 20 + 8;
  // The points under it, and the first one past it (a line to it may cross the legend's edge).
  const underLegend = panel.series.flatMap((s) => {
    const points = s.points.filter((p) => Number.isFinite(p.y));
    const past = points.findIndex((p) => px(p.x) > x0 + 10 + legendWidth);
    return points.slice(0, past === -1 ? points.length : past + 1).map((p) => p.y);
  });
  const dataTop = Math.max(1e-9, ...underLegend);
  const topShare = () => {
    const [low, high] = [yTicks[0], yTicks[yTicks.length - 1]];
    return panel.logY
      ? (Math.log10(dataTop) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))
      : (dataTop - low) / (high - low);
  };
  while (topShare() > 1 - (legendHeight + 12) / (y0 - y1)) {
    const last = yTicks[yTicks.length - 1];
    yTicks.push(panel.logY ? last * 10 : Number((last + yTicks[1] - yTicks[0]).toPrecision(6)));
  }
  const [yMin, yMax] = [yTicks[0], yTicks[yTicks.length - 1]];
  const py = (y: number) => {
    const t = panel.logY
      ? (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))
      : (y - yMin) / (yMax - yMin);
    return y0 - Math.min(1.02, Math.max(-0.02, t)) * (y0 - y1);
  };

  canvas.text(left + (PANEL_WIDTH - textWidth(panel.title)) / 2, y1 - 26, panel.title, INK, 2);
  for (const tick of yTicks) {
    const y = py(tick);
    canvas.dashed(x0, y, x1, y, GRID);
    const label = formatTick(tick);
    canvas.text(x0 - 8 - textWidth(label), y - CHAR_HEIGHT, label, INK, 2);
  }
  for (const tick of xTicks) {
    const x = px(tick);
    canvas.dashed(x, y0, x, y1, GRID);
    const label = formatTick(tick);
    canvas.text(x - textWidth(label) / 2, y0 + 10, label, INK, 2);
  }
  canvas.line(x0, y0, x1, y0, INK);
  canvas.line(x0, y0, x0, y1, INK);
  canvas.text(x0 + (x1 - x0 - textWidth(panel.xLabel)) / 2, y0 + 40, panel.xLabel, INK, 2);
  canvas.verticalText(left + 10, y0 - (y0 - y1 - textWidth(panel.yLabel)) / 2, panel.yLabel, INK, 2);

  for (const series of panel.series) {
    const points = series.points.filter((p) => Number.isFinite(p.y) && (!panel.logY || p.y > 0));
    // Many points (a time series) are drawn as a thin line without markers.
    const dense = points.length > 40;
    for (let i = 1; i < points.length; i++) {
      const [a, b] = [points[i - 1], points[i]];
      canvas.line(px(a.x), py(a.y), px(b.x), py(b.y), series.color, dense ? 2 : 3);
    }
    if (!dense) for (const p of points) canvas.rect(px(p.x) - 4, py(p.y) - 4, 9, 9, series.color);
  }
  canvas.rect(x0 + 6, y1 + 4, legendWidth, legendHeight, [255, 255, 255]);
  for (const [i, series] of panel.series.entries()) {
    const y = y1 + 10 + i * 20;
    canvas.rect(x0 + 12, y + 5, 22, 4, series.color);
    canvas.text(x0 + 42, y, series.label, INK, 2);
  }
}

/** 0 and round steps up to the largest value. */
function linearTicks(values: readonly number[]): number[] {
  const max = Math.max(1e-9, ...values);
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  const ticks: number[] = [];
  // Up to the first tick at or (by less than 0.5 %, e.g. a run of 10.01 minutes) below the largest value.
  for (let tick = 0; ; tick += step) {
    ticks.push(Number(tick.toPrecision(6)));
    if (tick >= max * 0.995) return ticks;
  }
}

/** Whole decades around the values. */
function logTicks(values: readonly number[]): number[] {
  const positive = values.filter((v) => v > 0);
  const low = Math.floor(Math.log10(Math.min(...positive, 1)));
  const high = Math.ceil(Math.log10(Math.max(...positive, 1)));
  const ticks: number[] = [];
  for (let e = low; e <= Math.max(high, low + 1); e++) ticks.push(10 ** e);
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return "0";
  if (value >= 1000) return `${Number((value / 1000).toPrecision(3))}K`;
  if (value >= 1) return String(Number(value.toPrecision(3)));
  return String(Number(value.toPrecision(2)));
}
