/* Small drawing and formatting helpers shared by the supervision pages: inline SVG built
   with the DOM (no library, nothing fetched from elsewhere), French number formats. */
"use strict";

var SAS = window.SAS || {};
window.SAS = SAS;

(function () {
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  SAS.percent = function (value) {
    if (value === null || value === undefined) {
      return "—";
    }
    return (value * 100).toLocaleString("fr-FR", { maximumFractionDigits: 1 }) + " %";
  };

  SAS.duration = function (seconds) {
    if (seconds === null || seconds === undefined) {
      return "—";
    }
    var s = Math.round(seconds);
    if (s < 60) {
      return s + " s";
    }
    var m = Math.floor(s / 60);
    var rest = s % 60;
    if (m < 60) {
      return m + " min " + (rest < 10 ? "0" : "") + rest + " s";
    }
    var h = Math.floor(m / 60);
    var mm = m % 60;
    return h + " h " + (mm < 10 ? "0" : "") + mm + " min";
  };

  SAS.time = function (iso) {
    if (!iso) {
      return "—";
    }
    return new Date(iso).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" });
  };

  SAS.csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };

  SAS.clear = function (node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  };

  SAS.cell = function (row, text, header) {
    var cell = document.createElement(header ? "th" : "td");
    if (header) {
      cell.setAttribute("scope", header === true ? "col" : header);
    }
    cell.textContent = text;
    row.appendChild(cell);
    return cell;
  };

  /* Grouped bars: series = [{label, values, cls}], labels under every `labelEvery` group.
     An optional vertical line at `marker` (index, fractional) with its text. */
  SAS.bars = function (container, options) {
    var width = options.width || 720;
    var height = options.height || 220;
    var pad = { top: 16, right: 12, bottom: 42, left: 40 };
    var series = options.series;
    var count = series.length ? series[0].values.length : 0;
    var max = 1;
    series.forEach(function (s) {
      s.values.forEach(function (v) {
        max = Math.max(max, v);
      });
    });
    var svg = el("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: "100%",
      preserveAspectRatio: "xMidYMid meet",
      "aria-hidden": "true",
      class: "barres"
    });
    var plotW = width - pad.left - pad.right;
    var plotH = height - pad.top - pad.bottom;
    var groupW = count ? plotW / count : plotW;
    var barW = Math.max(1, (groupW * 0.8) / Math.max(series.length, 1));
    svg.appendChild(el("line", {
      x1: pad.left, y1: pad.top + plotH, x2: pad.left + plotW, y2: pad.top + plotH, class: "axe"
    }));
    var ticks = max % 2 === 0 ? [0, max / 2, max] : [0, max];
    ticks.forEach(function (value) {
      var y = pad.top + plotH - (value / max) * plotH;
      svg.appendChild(el("text", { x: pad.left - 6, y: y + 4, class: "graduation", "text-anchor": "end" },
        String(value)));
    });
    series.forEach(function (s, si) {
      s.values.forEach(function (v, i) {
        var h = (v / max) * plotH;
        var rect = el("rect", {
          x: pad.left + i * groupW + groupW * 0.1 + si * barW,
          y: pad.top + plotH - h,
          width: barW,
          height: h,
          class: s.cls
        });
        rect.appendChild(el("title", {}, s.label + " : " + v + (options.labels ? " (" + options.labels[i] + ")" : "")));
        svg.appendChild(rect);
      });
    });
    if (options.labels) {
      var every = options.labelEvery || 1;
      options.labels.forEach(function (label, i) {
        if (i % every === 0) {
          svg.appendChild(el("text", {
            x: pad.left + i * groupW + groupW / 2, y: pad.top + plotH + 16, class: "graduation", "text-anchor": "middle"
          }, label));
        }
      });
    }
    if (options.marker !== undefined && options.marker !== null) {
      var x = pad.left + options.marker * groupW;
      svg.appendChild(el("line", { x1: x, y1: pad.top, x2: x, y2: pad.top + plotH, class: "cible" }));
      svg.appendChild(el("text", { x: x + 4, y: pad.top + 10, class: "cible-texte" }, options.markerText || ""));
    }
    var legendX = pad.left;
    series.forEach(function (s) {
      svg.appendChild(el("rect", { x: legendX, y: height - 14, width: 10, height: 10, class: s.cls }));
      svg.appendChild(el("text", { x: legendX + 14, y: height - 5, class: "legende" }, s.label));
      legendX += 18 + s.label.length * 7;
    });
    SAS.clear(container);
    container.appendChild(svg);
  };
})();
