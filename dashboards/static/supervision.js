/* The live supervision page: one EventSource on /api/dashboard/stream (reconnecting by
   itself, and recreated if the browser gives up), the charts and agents' board fetched
   beside it. Every state is written as text, colour only repeats it. */
"use strict";

(function () {
  var SAS = window.SAS;
  var QUEUE_NAMES = { arm: "ARM", callback: "Rappels", amu: "AMU", liberal: "Libéral" };
  var ROLE_NAMES = {
    arm: "ARM",
    regulator_amu: "Régulateur AMU",
    regulator_liberal: "Régulateur libéral",
    osnp: "OSNP",
    supervisor: "Superviseur",
    admin: "Administrateur"
  };
  var STATUS_NAMES = {
    available: "Disponible",
    busy: "En appel",
    wrap_up: "Post-appel",
    paused: "En pause",
    offline: "Hors ligne"
  };
  var STATUSES = ["available", "busy", "wrap_up", "paused", "offline"];
  var CHART_HOURS = 6;
  var source = null;
  var lastAgents = "";
  var surge = null;
  var chartsTimer = null;
  var lastActivity = null;
  var chartsLoadedAt = 0;

  function $(id) {
    return document.getElementById(id);
  }

  function setLink(state, text) {
    var node = $("liaison");
    node.setAttribute("data-state", state);
    node.textContent = text;
  }

  function renderQueues(snapshot, breachesByQueue) {
    Object.keys(snapshot.queues).forEach(function (queue) {
      var tile = $("file-" + queue);
      if (!tile) {
        return;
      }
      var state = snapshot.queues[queue];
      var total = 0;
      Object.keys(state.waiting).forEach(function (p) {
        total += state.waiting[p];
        var cell = tile.querySelector('td[data-priority="' + p + '"]');
        if (cell) {
          cell.textContent = String(state.waiting[p]);
        }
      });
      tile.querySelector('[data-field="total"]').textContent = String(total);
      tile.querySelector('[data-field="total-label"]').textContent =
        queue === "callback" ? (total > 1 ? "rappels à faire" : "rappel à faire") : "en attente";
      tile.querySelector('[data-field="oldest"]').textContent =
        state.oldest_wait_s === null ? "aucune" : SAS.duration(state.oldest_wait_s);
      var late = breachesByQueue[queue] || 0;
      var stateText = tile.querySelector('[data-field="state"]');
      if (late) {
        tile.setAttribute("data-state", "breach");
        stateText.textContent = "⚠ " + late + (late > 1 ? " appels hors délai" : " appel hors délai");
      } else if (total) {
        tile.setAttribute("data-state", "waiting");
        stateText.textContent = "Dans les délais";
      } else {
        tile.setAttribute("data-state", "ok");
        stateText.textContent = "File vide";
      }
    });
  }

  function renderBreaches(breaches) {
    var band = $("alertes");
    var list = $("alertes-liste");
    SAS.clear(list);
    if (!breaches.length) {
      band.setAttribute("data-level", "none");
      $("alertes-titre").textContent = "Aucun dépassement : tous les appels en attente sont dans leur délai.";
      return;
    }
    var vital = breaches.filter(function (b) { return b.priority === "P0"; }).length;
    band.setAttribute("data-level", vital ? "vital" : "late");
    var title = "⚠ " + breaches.length + (breaches.length > 1 ? " appels hors délai" : " appel hors délai");
    if (vital) {
      title += " dont " + vital + " P0 (urgence vitale) en attente";
    }
    $("alertes-titre").textContent = title;
    breaches.slice(0, 12).forEach(function (b) {
      var item = document.createElement("li");
      item.setAttribute("data-call-id", String(b.call_id));
      item.textContent = (b.priority === "P0" ? "URGENCE VITALE — " : "") +
        "appel " + b.call_id + ", " + b.priority + ", file " + (QUEUE_NAMES[b.queue] || b.queue) +
        " : attend depuis " + SAS.duration(b.waited_s) + " (cible " + SAS.duration(b.target_s) + ")";
      list.appendChild(item);
    });
    if (breaches.length > 12) {
      var more = document.createElement("li");
      more.textContent = "et " + (breaches.length - 12) + " autres";
      list.appendChild(more);
    }
  }

  function renderFigures(snapshot) {
    ["15m", "1h", "24h"].forEach(function (w) {
      var row = document.querySelector('#indicateurs tr[data-window="' + w + '"]');
      row.querySelector('[data-field="sl"]').textContent = SAS.percent(snapshot.service_level[w].answered);
      row.querySelector('[data-field="sl2"]').textContent = SAS.percent(snapshot.service_level[w].with_abandoned);
      row.querySelector('[data-field="abandon"]').textContent = SAS.percent(snapshot.abandonment_rate[w]);
    });
    $("appels-heure").textContent = String(snapshot.calls_per_hour);
    // New arrivals or answers: redraw the charts, at most every 5 s.
    var activity = snapshot.calls_per_hour + "/" + JSON.stringify(snapshot.service_level["24h"]);
    if (activity !== lastActivity && Date.now() - chartsLoadedAt > 5000) {
      lastActivity = activity;
      loadCharts();
    }
  }

  function renderAgentCounts(agents) {
    var body = document.querySelector("#agents-synthese tbody");
    SAS.clear(body);
    Object.keys(agents).forEach(function (role) {
      var row = document.createElement("tr");
      SAS.cell(row, ROLE_NAMES[role] || role, "row");
      STATUSES.forEach(function (s) {
        SAS.cell(row, String(agents[role][s] || 0));
      });
      body.appendChild(row);
    });
    var signature = JSON.stringify(agents);
    if (signature !== lastAgents) {
      lastAgents = signature;
      loadAgents();
    }
  }

  function renderSurge(active) {
    surge = active;
    var state = $("afflux-etat");
    var button = $("afflux-bouton");
    state.setAttribute("data-surge", active ? "on" : "off");
    state.textContent = active
      ? "⚠ Afflux massif déclaré : les régulateurs des deux filières prennent les appels de l'autre."
      : "Pas d'afflux massif déclaré.";
    button.textContent = active ? "Lever l'afflux massif" : "Déclarer un afflux massif";
    button.disabled = false;
  }

  function render(snapshot) {
    var byQueue = {};
    snapshot.breaches.forEach(function (b) {
      byQueue[b.queue] = (byQueue[b.queue] || 0) + 1;
    });
    renderQueues(snapshot, byQueue);
    renderBreaches(snapshot.breaches);
    renderFigures(snapshot);
    renderAgentCounts(snapshot.agents);
    renderSurge(snapshot.surge);
    document.body.setAttribute("data-snapshot-at", snapshot.at);
  }

  function loadAgents() {
    fetch("/api/dashboard/agents", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) {
          return;
        }
        var tbody = document.querySelector("#agents tbody");
        SAS.clear(tbody);
        body.agents.forEach(function (a) {
          var row = document.createElement("tr");
          row.setAttribute("data-status", a.status);
          SAS.cell(row, a.name, "row");
          SAS.cell(row, ROLE_NAMES[a.role] || a.role);
          SAS.cell(row, (STATUS_NAMES[a.status] || a.status) + (a.reason ? " (" + a.reason + ")" : ""));
          SAS.cell(row, a.for_s === null ? "—" : SAS.duration(a.for_s));
          SAS.cell(row, a.call_id === null ? "—" : String(a.call_id));
          tbody.appendChild(row);
        });
      })
      .catch(function () { /* the next snapshot retries */ });
  }

  function loadCharts() {
    chartsLoadedAt = Date.now();
    fetch("/api/dashboard/charts?hours=" + CHART_HOURS, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) {
          return;
        }
        $("graphe-heures").textContent = String(CHART_HOURS);
        var labels = body.series.map(function (b) { return SAS.time(b.start); });
        SAS.bars($("graphe-activite"), {
          labels: labels,
          labelEvery: 12,
          series: [
            { label: "Arrivées", values: body.series.map(function (b) { return b.arrivals; }), cls: "serie-arrivees" },
            { label: "Décrochés", values: body.series.map(function (b) { return b.answers; }), cls: "serie-decroches" }
          ]
        });
        var times = body.answer_times;
        $("cible-decroche").textContent = String(times.target_s);
        var binLabels = times.counts.map(function (_, i) { return String(i * times.bin_s); });
        binLabels.push("≥ " + times.over_s);
        SAS.bars($("graphe-delais"), {
          labels: binLabels,
          labelEvery: 3,
          series: [{ label: "Appels décrochés", values: times.counts.concat([times.over]), cls: "serie-delais" }],
          marker: times.target_s / times.bin_s,
          markerText: "cible " + times.target_s + " s"
        });
      })
      .catch(function () { /* retried on the next tick */ });
  }

  function connect() {
    if (source) {
      source.close();
    }
    setLink("connecting", "Connexion…");
    source = new EventSource("/api/dashboard/stream");
    source.addEventListener("snapshot", function (message) {
      setLink("open", "En direct");
      render(JSON.parse(message.data));
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an error answer): try again ourselves.
        setLink("closed", "Liaison perdue, nouvelle tentative…");
        window.setTimeout(connect, 3000);
      } else {
        setLink("connecting", "Liaison interrompue, reconnexion…");
      }
    });
  }

  function toggleSurge() {
    var button = $("afflux-bouton");
    var wanted = !surge;
    var question = wanted ? "Déclarer un afflux massif ?" : "Lever l'afflux massif ?";
    if (!window.confirm(question)) {
      return;
    }
    button.disabled = true;
    fetch(button.getAttribute("data-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": SAS.csrf() },
      body: JSON.stringify({ active: wanted })
    })
      .then(function (r) {
        $("afflux-message").textContent = r.ok
          ? (wanted ? "Afflux massif déclaré." : "Afflux massif levé.")
          : "Refusé (" + r.status + ").";
        button.disabled = false;
      })
      .catch(function () {
        $("afflux-message").textContent = "Échec : le serveur ne répond pas.";
        button.disabled = false;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("afflux-bouton").addEventListener("click", toggleSurge);
    connect();
    loadCharts();
    chartsTimer = window.setInterval(loadCharts, 30000);
    window.setInterval(loadAgents, 15000);
  });
  window.addEventListener("beforeunload", function () {
    if (source) {
      source.close();
    }
    if (chartsTimer) {
      window.clearInterval(chartsTimer);
    }
  });
})();
