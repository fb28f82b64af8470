/* The report page: the handling-time report over a period (days in Europe/Paris, "to"
   excluded), its CSV export, and the monthly ARS indicators. */
"use strict";

(function () {
  var SAS = window.SAS;
  var STAGES = {
    ivr_s: "Serveur vocal",
    arm_wait_s: "Attente ARM (décroché)",
    arm_talk_s: "Entretien ARM",
    regulator_wait_s: "Attente régulateur",
    regulator_talk_s: "Entretien régulateur",
    time_to_decision_s: "Délai jusqu'à la décision",
    total_s: "Durée totale",
    abandoned_after_s: "Attente avant abandon"
  };
  var TRACKS = { amu: "AMU", liberal: "Libérale" };

  function $(id) {
    return document.getElementById(id);
  }

  function query() {
    var params = new URLSearchParams();
    if ($("du").value) {
      params.set("from", $("du").value);
    }
    if ($("au").value) {
      params.set("to", $("au").value);
    }
    return params.toString();
  }

  function renderSummary(summary) {
    var dl = $("synthese");
    SAS.clear(dl);
    var items = [
      ["Appels reçus", summary.received],
      ["Décrochés", summary.answered],
      ["Décrochés en 60 s ou moins", summary.answered_within_60s],
      ["Abandons (15 s ou plus en file)", summary.abandoned],
      ["Abandons courts (hors taux)", summary.short_abandoned],
      ["Transmis à l'AMU", summary.escalated.amu],
      ["Transmis à la régulation libérale", summary.escalated.liberal],
      ["Orientés vers une consultation SNP", summary.snp_oriented],
      ["Niveau de service (décrochés dans le délai ÷ décrochés)", SAS.percent(summary.service_level.answered)],
      ["Niveau de service avec abandons (SL2)", SAS.percent(summary.service_level.with_abandoned)]
    ];
    Object.keys(summary.decisions).forEach(function (code) {
      items.push(["Décisions " + code, summary.decisions[code]]);
    });
    items.forEach(function (item) {
      var dt = document.createElement("dt");
      dt.textContent = item[0];
      var dd = document.createElement("dd");
      dd.textContent = String(item[1]);
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    var body = document.querySelector("#etapes tbody");
    SAS.clear(body);
    Object.keys(STAGES).forEach(function (stage) {
      var row = document.createElement("tr");
      SAS.cell(row, STAGES[stage], "row");
      SAS.cell(row, SAS.duration(summary.median_s[stage]));
      SAS.cell(row, SAS.duration(summary.p90_s[stage]));
      SAS.cell(row, stage in summary.met ? SAS.percent(summary.met[stage]) : "");
      body.appendChild(row);
    });
  }

  function renderBreakdown(id, groups, keyName, label) {
    var table = $(id);
    var head = table.querySelector("thead");
    var body = table.querySelector("tbody");
    SAS.clear(head);
    SAS.clear(body);
    var titles = [label, "Reçus", "Décrochés", "≤ 60 s", "Abandons", "Abandons courts", "SL", "SL2",
      "Médiane attente ARM", "90e centile attente ARM", "Médiane attente régulateur"];
    var row = document.createElement("tr");
    titles.forEach(function (t) { SAS.cell(row, t, true); });
    head.appendChild(row);
    groups.forEach(function (g) {
      var line = document.createElement("tr");
      var key = g[keyName];
      if (keyName === "track") {
        key = key === null ? "sans filière" : (TRACKS[key] || key);
      } else if (keyName === "hour") {
        key = key + " h";
      }
      SAS.cell(line, String(key), "row");
      SAS.cell(line, String(g.received));
      SAS.cell(line, String(g.answered));
      SAS.cell(line, String(g.answered_within_60s));
      SAS.cell(line, String(g.abandoned));
      SAS.cell(line, String(g.short_abandoned));
      SAS.cell(line, SAS.percent(g.service_level.answered));
      SAS.cell(line, SAS.percent(g.service_level.with_abandoned));
      SAS.cell(line, SAS.duration(g.median_s.arm_wait_s));
      SAS.cell(line, SAS.duration(g.p90_s.arm_wait_s));
      SAS.cell(line, SAS.duration(g.median_s.regulator_wait_s));
      body.appendChild(line);
    });
  }

  function renderAgents(agents) {
    var table = $("par-agent");
    var head = table.querySelector("thead");
    var body = table.querySelector("tbody");
    SAS.clear(head);
    SAS.clear(body);
    var row = document.createElement("tr");
    ["Agent", "Appels", "Comme ARM", "Transmis", "Comme régulateur", "Médiane entretien ARM",
      "Médiane entretien régulateur"].forEach(function (t) { SAS.cell(row, t, true); });
    head.appendChild(row);
    agents.forEach(function (a) {
      var line = document.createElement("tr");
      SAS.cell(line, a.name, "row");
      SAS.cell(line, String(a.calls));
      SAS.cell(line, String(a.arm_calls));
      SAS.cell(line, String(a.escalated));
      SAS.cell(line, String(a.regulator_calls));
      SAS.cell(line, SAS.duration(a.median_s.arm_talk_s));
      SAS.cell(line, SAS.duration(a.median_s.regulator_talk_s));
      body.appendChild(line);
    });
  }

  function load() {
    $("rapport-etat").textContent = "Chargement…";
    fetch("/api/reports/handling-times?calls=0&" + query(), { credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          $("rapport-etat").textContent = "Refusé : " + answer.body.error;
          return;
        }
        var report = answer.body;
        $("rapport-etat").textContent = "Du " + new Date(report.from).toLocaleString("fr-FR") +
          " au " + new Date(report.to).toLocaleString("fr-FR") + " : " + report.summary.received + " appels.";
        renderSummary(report.summary);
        renderBreakdown("par-jour", report.by_day, "day", "Jour");
        renderBreakdown("par-heure", report.by_hour, "hour", "Heure");
        renderBreakdown("par-priorite", report.by_priority, "priority", "Priorité");
        renderBreakdown("par-filiere", report.by_track, "track", "Filière");
        renderAgents(report.by_agent);
        SAS.bars($("graphe-jours"), {
          labels: report.by_day.map(function (d) { return d.day.slice(5); }),
          series: [
            { label: "Reçus", values: report.by_day.map(function (d) { return d.received; }), cls: "serie-arrivees" },
            { label: "Décrochés", values: report.by_day.map(function (d) { return d.answered; }), cls: "serie-decroches" },
            { label: "Abandons", values: report.by_day.map(function (d) { return d.abandoned; }), cls: "serie-abandons" }
          ]
        });
        var hours = [];
        for (var h = 0; h < 24; h += 1) {
          hours.push(0);
        }
        report.by_hour.forEach(function (g) { hours[g.hour] = g.received; });
        SAS.bars($("graphe-heures"), {
          labels: hours.map(function (_, i) { return String(i); }),
          labelEvery: 2,
          series: [{ label: "Reçus", values: hours, cls: "serie-arrivees" }]
        });
      })
      .catch(function () {
        $("rapport-etat").textContent = "Échec : le serveur ne répond pas.";
      });
  }

  function exportCsv() {
    fetch("/api/reports/handling-times?" + query(), {
      credentials: "same-origin",
      headers: { Accept: "text/csv" }
    })
      .then(function (r) { return r.blob(); })
      .then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = "temps-de-traitement.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
      });
  }

  function loadArs() {
    var month = $("mois").value;
    fetch("/api/reports/ars" + (month ? "?month=" + month : ""), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (ars) {
        if (!ars) {
          return;
        }
        var body = document.querySelector("#ars tbody");
        SAS.clear(body);
        var rows = [
          ["Mois", ars.month],
          ["Appels reçus", ars.calls_received],
          ["Appels décrochés", ars.answered],
          ["Décrochés en 60 s ou moins", ars.answered_within_60s],
          ["Abandons (après 15 s)", ars.abandoned],
          ["Transmis à l'AMU", ars.escalated.amu],
          ["Transmis à la régulation libérale", ars.escalated.liberal],
          ["Part orientée vers une consultation SNP", SAS.percent(ars.snp_share)]
        ];
        Object.keys(ars.decisions).forEach(function (code) {
          rows.push(["Décisions " + code, ars.decisions[code]]);
        });
        Object.keys(STAGES).forEach(function (stage) {
          rows.push([STAGES[stage] + " — médiane / 90e centile",
            SAS.duration(ars.median_s[stage]) + " / " + SAS.duration(ars.p90_s[stage])]);
        });
        rows.forEach(function (r) {
          var line = document.createElement("tr");
          SAS.cell(line, r[0], "row");
          SAS.cell(line, String(r[1]));
          body.appendChild(line);
        });
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("periode").addEventListener("submit", function (e) {
      e.preventDefault();
      load();
    });
    $("csv").addEventListener("click", exportCsv);
    $("mois-form").addEventListener("submit", function (e) {
      e.preventDefault();
      loadArs();
    });
    load();
    loadArs();
  });
})();
