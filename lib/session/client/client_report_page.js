// The script of the client's HTML report (client_report.ts embeds it as text,
// after uPlot). It reads the report's data from <script id="report-data"> and
// draws the per-second charts and the packet timeline with uPlot. Each chart
// element records what it drew: data-points (values plotted) and data-drawn
// (how many times uPlot drew it), so that a test or a tool can check the page.
// It runs in the browser: plain ES2017, no imports.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const perSecond = data.perSecond;
  const COLORS = {
    frames: "#1f77b4",
    bad: "#d62728",
    kbit: "#2ca02c",
    reordered: "#ff7f0e",
    duplicate: "#9467bd",
    jitter: "#8c564b",
    packet: "#7f7f7f",
  };

  /** Tick steps of the seconds axis: whole seconds. */
  const SECOND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

  function width() {
    const main = document.querySelector("main");
    return Math.max(320, Math.min(960, (main ? main.clientWidth : 960) - 8));
  }

  function countValues(columns) {
    let n = 0;
    for (const column of columns) {
      for (const v of column) if (v !== null && v !== undefined) n++;
    }
    return n;
  }

  function markDrawn(element) {
    return function () {
      element.dataset.drawn = String(Number(element.dataset.drawn || 0) + 1);
    };
  }

  /**
   * One uPlot chart over the seconds of the run.
   * lines: [{ label, values, color }], unit: the y axis label.
   */
  function secondsChart(id, title, unit, lines) {
    const element = document.getElementById(id);
    const options = {
      title: title,
      width: width(),
      height: 220,
      scales: { x: { time: false } },
      axes: [{ label: "second of the run", incrs: SECOND_STEPS }, { label: unit }],
      series: [{ label: "second" }].concat(lines.map(function (line) {
        return {
          label: line.label,
          stroke: line.color,
          width: 2,
          points: { show: true, size: 5, fill: line.color },
        };
      })),
      hooks: { draw: [markDrawn(element)] },
    };
    const columns = lines.map(function (line) {
      return line.values;
    });
    element.dataset.points = String(countValues(columns));
    return new uPlot(options, [perSecond.second].concat(columns), element);
  }

  /** The packet timeline: one point per packet or event, sequence number over arrival time. */
  function timelineChart(id) {
    const element = document.getElementById(id);
    const entries = data.timeline.entries.slice().sort(function (a, b) {
      return a.t - b.t;
    });
    const kinds = [
      { kind: "packet", label: "in order", color: COLORS.packet, size: 3 },
      { kind: "gap", label: "gap (first missing)", color: COLORS.bad, size: 9 },
      { kind: "reordered", label: "reordered", color: COLORS.reordered, size: 7 },
      { kind: "duplicate", label: "duplicate", color: COLORS.duplicate, size: 7 },
    ];
    const x = entries.map(function (e) {
      return e.t;
    });
    const columns = kinds.map(function (k) {
      return entries.map(function (e) {
        return e.kind === k.kind ? e.seq : null;
      });
    });
    const options = {
      title: "Packets: sequence number by arrival",
      width: width(),
      height: 300,
      scales: { x: { time: false } },
      axes: [{ label: "seconds after the first packet" }, { label: "sequence number", size: 70 }],
      series: [{ label: "s" }].concat(kinds.map(function (k) {
        return {
          label: k.label,
          stroke: k.color,
          paths: function () {
            return null;
          },
          points: { show: true, space: 0, size: k.size, fill: k.color, stroke: k.color },
        };
      })),
      hooks: { draw: [markDrawn(element)] },
    };
    element.dataset.points = String(countValues(columns));
    return new uPlot(options, [x].concat(columns), element);
  }

  function sum(a, b) {
    return a.map(function (v, i) {
      return v + b[i];
    });
  }

  secondsChart("chart-frames", "Frames per second", "frames", [
    { label: "complete", values: perSecond.frames, color: COLORS.frames },
    {
      label: "incomplete or damaged",
      values: sum(perSecond.framesIncomplete, perSecond.framesDamaged),
      color: COLORS.bad,
    },
  ]);
  secondsChart("chart-kbit", "Payload bit rate", "kbit/s", [
    { label: "kbit/s", values: perSecond.kbitPerSec, color: COLORS.kbit },
  ]);
  secondsChart("chart-lost", "Packets lost, reordered and duplicated", "packets", [
    { label: "lost", values: perSecond.lost, color: COLORS.bad },
    { label: "out of order", values: perSecond.outOfOrder, color: COLORS.reordered },
    { label: "duplicate", values: perSecond.duplicates, color: COLORS.duplicate },
  ]);
  secondsChart("chart-jitter", "Interarrival jitter (RFC 3550 6.4.1)", "ms", [
    { label: "jitter ms", values: perSecond.jitterMs, color: COLORS.jitter },
  ]);
  timelineChart("chart-timeline");
  document.documentElement.dataset.charts = "done";
})();
