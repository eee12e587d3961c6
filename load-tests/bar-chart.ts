// A horizontal grouped bar chart as SVG text, written by hand: one row per server, one bar
// per load generator. No plotting dependency for a chart this small.

export interface BarGroup {
  label: string;
  /** Value per series; a missing series draws no bar. */
  values: (number | undefined)[];
}

const SERIES_COLOURS = ['#3b6ea8', '#e08a2c', '#5a9e5a'];
const LABEL_WIDTH = 300;
const BAR_AREA = 480;
const BAR_HEIGHT = 18;
const BAR_GAP = 4;
const GROUP_GAP = 16;
const TOP = 56;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function barChartSvg(title: string, subtitle: string, series: string[], groups: BarGroup[], unit: string): string {
  const max = Math.max(1, ...groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined)));
  const groupHeight = series.length * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP;
  const height = TOP + groups.length * groupHeight + 24 + series.length * 18;
  const width = LABEL_WIDTH + BAR_AREA + 110;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="38" fill="#555">${escape(subtitle)}</text>`,
  ];
  groups.forEach((group, g) => {
    const y0 = TOP + g * groupHeight;
    parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y0 + (series.length * (BAR_HEIGHT + BAR_GAP)) / 2 + 4}" text-anchor="end">${escape(group.label)}</text>`);
    group.values.forEach((value, s) => {
      if (value === undefined) return;
      const y = y0 + s * (BAR_HEIGHT + BAR_GAP);
      const w = Math.max(1, (value / max) * BAR_AREA);
      parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${SERIES_COLOURS[s % SERIES_COLOURS.length]}"/>`);
      parts.push(`<text x="${(LABEL_WIDTH + w + 6).toFixed(1)}" y="${y + BAR_HEIGHT - 5}">${Math.round(value).toLocaleString('en-US')} ${escape(unit)}</text>`);
    });
  });
  const legendY = TOP + groups.length * groupHeight + 8;
  series.forEach((name, s) => {
    const y = legendY + s * 18;
    parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="12" height="12" fill="${SERIES_COLOURS[s % SERIES_COLOURS.length]}"/>`);
    parts.push(`<text x="${LABEL_WIDTH + 18}" y="${y + 10}">${escape(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
