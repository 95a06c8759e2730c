import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/**
 * Line charts side by side, as one SVG: a vega-lite spec rendered by vega in Node, with no
 * browser and no canvas. Each panel's legend sits under its plot, so it never covers the data.
 */

export interface Series {
  readonly label: string;
  /** A CSS colour. */
  readonly color: string;
  /** Points with a NaN y are left out (and those at or below 0 on a logarithmic axis). */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** "log2" (the default): a base-2 axis labelled at xTicks, from the first to the last. "linear": from 0 to the last point. */
  readonly xScale?: "log2" | "linear";
  readonly xTicks?: readonly number[];
  readonly series: readonly Series[];
  /** A logarithmic y axis in whole decades, for measures spanning decades (latencies). */
  readonly logY?: boolean;
}

export const BLUE = "#1f77b4";
export const ORANGE = "#e67814";
export const GREEN = "#2ca02c";
export const RED = "#c82828";

const PANEL_WIDTH = 440;
const PANEL_HEIGHT = 340;
/** A series longer than this (a time series) is drawn as a thin line without markers. */
const DENSE_POINTS = 40;

export async function chartSvg(title: string, subtitle: string, panels: readonly Panel[]): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle, anchor: "start", fontSize: 18, subtitleFontSize: 12, offset: 16 },
    background: "white",
    padding: 16,
    config: {
      font: "Helvetica, Arial, sans-serif",
      axis: { labelFontSize: 12, titleFontSize: 13, gridDash: [3, 3] },
      legend: { labelFontSize: 12, labelLimit: 0, symbolStrokeWidth: 3 },
      title: { fontSize: 15 },
    },
    hconcat: panels.map(panelSpec),
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function panelSpec(panel: Panel) {
  const rows = panel.series.flatMap((series) =>
    series.points
      .filter((point) => Number.isFinite(point.y) && (!panel.logY || point.y > 0))
      .map((point) => ({ series: series.label, x: point.x, y: point.y })),
  );
  const dense = panel.series.some((series) => series.points.length > DENSE_POINTS);
  const xTicks = panel.xTicks ?? [];
  const x =
    panel.xScale === "linear"
      ? { scale: { domain: [0, Math.max(0, ...rows.map((row) => row.x))], nice: false } }
      : {
          scale: { type: "log" as const, base: 2, domain: [xTicks[0], xTicks[xTicks.length - 1]] },
          axis: { values: [...xTicks] },
        };
  const yDecades = decades(rows.map((row) => row.y));
  const y = panel.logY
    ? {
        scale: { type: "log" as const, domain: [yDecades[0], yDecades[yDecades.length - 1]] },
        axis: { values: yDecades, format: "~g" },
      }
    : { scale: { zero: true } };
  return {
    title: panel.title,
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values: rows },
    mark: {
      type: "line" as const,
      strokeWidth: dense ? 1.5 : 2.5,
      point: dense ? false : { shape: "square", size: 40, filled: true },
    },
    encoding: {
      x: { field: "x", type: "quantitative" as const, title: panel.xLabel, ...x },
      y: { field: "y", type: "quantitative" as const, title: panel.yLabel, ...y },
      color: {
        field: "series",
        type: "nominal" as const,
        title: null,
        scale: {
          domain: panel.series.map((series) => series.label),
          range: panel.series.map((series) => series.color),
        },
        legend: { orient: "bottom" as const, direction: "horizontal" as const, columns: 2 },
      },
    },
  };
}

/** The whole decades around the values (at least two). */
function decades(values: readonly number[]): number[] {
  const positive = values.filter((value) => value > 0);
  const low = Math.floor(Math.log10(Math.min(...positive, 1)));
  const high = Math.ceil(Math.log10(Math.max(...positive, 1)));
  const ticks: number[] = [];
  for (let exponent = low; exponent <= Math.max(high, low + 1); exponent++) ticks.push(10 ** exponent);
  return ticks;
}
