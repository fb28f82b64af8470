// The ARM and regulator consoles: presence, taking the next call, heartbeats, the call and
// its clock, the ARM's qualification / escalation / closing, the regulator's queue and
// decision. Plain JS, no inline script (CSP without 'unsafe-inline'); talks to /api with
// the session cookie and the CSRF token.
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  if (page !== "arm" && page !== "regulator") { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var leaseSeconds = parseInt(body.dataset.lease || "30", 10);
  var identity = body.dataset.identity;
  var TRACKS = { amu: "AMU", liberal: "Libérale", arm: "ARM", callback: "Rappel" };
  var state = { me: null, call: null, callId: null, heartbeat: null, queues: [] };

  function $(id) { return document.getElementById(id); }

  function say(text, isError) {
    var box = $("message");
    box.textContent = text || "";
    box.classList.toggle("error", !!isError);
  }

  function api(method, path, payload) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") { options.headers["X-CSRF-Token"] = csrf; }
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 401) { window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname); }
      if (response.status === 204) { return { status: 204, body: null }; }
      return response.json().then(function (data) { return { status: response.status, body: data }; },
        function () { return { status: response.status, body: null }; });
    });
  }

  function failed(result) {
    if (result.status >= 400) {
      var text = (result.body && result.body.error) || ("Erreur " + result.status);
      if (result.body && result.body.field) { text += " (champ " + result.body.field + ")"; }
      say(text, true);
      return true;
    }
    return false;
  }

  var PRESENCE = { available: "Disponible", busy: "En appel", wrap_up: "Fin d'appel", paused: "En pause", offline: "Hors ligne" };

  function showMe(me) {
    state.me = me;
    state.queues = me.queues || [];
    $("presence").textContent = PRESENCE[me.status] || me.status;
    $("presence-reason").textContent = me.reason ? "(" + me.reason + ")" : "";
    $("take-next").disabled = !!me.holding;
    var surge = $("surge");
    if (surge) { surge.hidden = !me.surge; }
    if (me.holding && me.holding !== state.callId) { loadCall(me.holding); }
    if (!me.holding && state.callId) { dropCall(); }
  }

  function refreshMe() {
    return api("GET", "/api/agents/me").then(function (result) {
      if (result.status === 200) { showMe(result.body); }
    });
  }

  function setPresence(status, reason) {
    var payload = { status: status };
    if (reason) { payload.reason = reason; }
    return api("PUT", "/api/agents/me/presence", payload).then(function (result) {
      if (!failed(result)) { showMe(result.body); say("État : " + PRESENCE[result.body.status]); }
    });
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    return two(Math.floor(seconds / 60)) + ":" + two(seconds % 60);
  }

  function tickClock() {
    var call = state.call;
    var clock = $("clock");
    if (!call || !clock) { return; }
    var start = Date.parse(call.enqueued_at || call.arrived_at);
    var waited = (Date.now() - start) / 1000;
    var text = duration(waited);
    if (call.target_s !== null && call.target_s !== undefined) {
      text += " / cible " + duration(call.target_s);
      clock.classList.toggle("late", waited > call.target_s);
    }
    clock.textContent = text;
  }

  function describe(location) {
    if (!location) { return ""; }
    return [location.address, location.postcode || location.insee].filter(Boolean).join(", ");
  }

  function showCall(call) {
    state.call = call;
    state.callId = call.id;
    $("call-card").hidden = false;
    $("work").hidden = false;
    var route = $("route");
    if (route) { route.hidden = false; }
    $("call-id").textContent = call.id;
    $("call-number").textContent = call.caller_display || call.caller || "Numéro masqué";
    $("call-priority").textContent = call.priority;
    $("call-queue").textContent = TRACKS[call.queue] || call.queue || "—";
    var history = $("history");
    history.textContent = "";
    (call.history || []).forEach(function (past) {
      var item = document.createElement("li");
      item.textContent = new Date(past.arrived_at).toLocaleString("fr-FR") + " — " + past.status +
        (past.reason ? " — " + past.reason : "");
      history.appendChild(item);
    });
    $("history-box").hidden = !(call.history && call.history.length);
    var dossier = call.dossier;
    $("dossier-box").hidden = !dossier;
    if (dossier) {
      $("dossier").textContent = [dossier.reason, describe(dossier.location),
        dossier.patient ? ((dossier.patient.age !== undefined ? dossier.patient.age + " ans" : dossier.patient.age_group) + " " + dossier.patient.sex) : "",
        dossier.notes].filter(Boolean).join(" · ");
    }
    tickClock();
    startHeartbeat();
  }

  function loadCall(id) {
    return api("GET", "/api/calls/" + id).then(function (result) {
      if (result.status === 200) { showCall(result.body); }
    });
  }

  function dropCall() {
    state.call = null;
    state.callId = null;
    $("call-card").hidden = true;
    $("work").hidden = true;
    var route = $("route");
    if (route) { route.hidden = true; }
    stopHeartbeat();
  }

  function startHeartbeat() {
    if (state.heartbeat) { return; }
    var every = Math.max(2, Math.floor(leaseSeconds / 3)) * 1000;
    state.heartbeat = window.setInterval(function () {
      if (!state.callId) { return; }
      api("POST", "/api/calls/" + state.callId + "/heartbeat").then(function (result) {
        if (result.status === 409) { say("L'appel vous a été retiré (bail expiré ou appel terminé).", true); dropCall(); refreshMe(); }
      });
    }, every);
  }

  function stopHeartbeat() {
    if (state.heartbeat) { window.clearInterval(state.heartbeat); state.heartbeat = null; }
  }

  function takeNext() {
    say("Recherche d'un appel…");
    $("take-next").disabled = true;
    api("POST", "/api/agents/me/next").then(function (result) {
      $("take-next").disabled = false;
      if (result.status === 204) { say("Aucun appel en attente."); return; }
      if (failed(result)) { refreshMe(); return; }
      say("Appel " + result.body.call.id + " : mise en relation.");
      loadCall(result.body.call.id).then(refreshMe).then(refreshQueue);
    });
  }

  function value(id) { var el = $(id); return el ? el.value.trim() : ""; }

  function afterChange(result, text) {
    if (failed(result)) { return false; }
    say(text);
    return true;
  }

  function qualify(event) {
    event.preventDefault();
    var location = { address: value("q-address") };
    if (value("q-postcode")) { location.postcode = value("q-postcode"); }
    if (value("q-insee")) { location.insee = value("q-insee"); }
    if (value("q-floor")) { location.floor = value("q-floor"); }
    if (value("q-door")) { location.door_code = value("q-door"); }
    var patient = { sex: value("q-sex") };
    if (value("q-age") !== "") { patient.age = parseInt(value("q-age"), 10); }
    if (value("q-age-group")) { patient.age_group = value("q-age-group"); }
    var payload = { priority: value("q-priority"), reason: value("q-reason"), location: location, patient: patient };
    if (value("q-notes")) { payload.notes = value("q-notes"); }
    api("POST", "/api/calls/" + state.callId + "/qualification", payload).then(function (result) {
      if (afterChange(result, "Qualification enregistrée.")) {
        $("e-priority").value = payload.priority;
        loadCall(state.callId);
      }
    });
  }

  function endOfCall(result, text) {
    if (afterChange(result, text)) { dropCall(); refreshMe(); }
  }

  function escalate(event) {
    event.preventDefault();
    api("POST", "/api/calls/" + state.callId + "/escalate", { track: value("e-track"), priority: value("e-priority") })
      .then(function (result) { endOfCall(result, "Appel transféré à la régulation."); });
  }

  function closeCall(event) {
    event.preventDefault();
    api("POST", "/api/calls/" + state.callId + "/close", { code: value("c-code") })
      .then(function (result) { endOfCall(result, "Appel clos."); });
  }

  function release() {
    api("POST", "/api/calls/" + state.callId + "/release")
      .then(function (result) { endOfCall(result, "Appel rendu à la file."); });
  }

  function decide(event) {
    event.preventDefault();
    var payload = { outcome: value("d-outcome"), urgency: value("d-urgency"), notes: value("d-notes") };
    if (value("d-resource")) { payload.resource = value("d-resource"); }
    if (value("d-orientation")) { payload.orientation = value("d-orientation"); }
    if (value("d-callback")) { payload.callback_at = new Date(value("d-callback")).toISOString(); }
    api("POST", "/api/calls/" + state.callId + "/decision", payload)
      .then(function (result) { endOfCall(result, "Décision enregistrée, appel clos."); });
  }

  function changeTrack(event) {
    event.preventDefault();
    api("POST", "/api/calls/" + state.callId + "/track", { track: value("t-track") })
      .then(function (result) { endOfCall(result, "Appel passé à l'autre filière."); });
  }

  function refreshQueue() {
    var rows = $("queue-rows");
    if (!rows) { return; }
    var queues = state.queues.length ? state.queues : [];
    Promise.all(queues.map(function (queue) { return api("GET", "/api/queues/" + queue + "/calls"); }))
      .then(function (results) {
        var calls = [];
        results.forEach(function (result) {
          if (result.status === 200) {
            result.body.calls.forEach(function (row) { row.queue = result.body.queue; calls.push(row); });
          }
        });
        rows.textContent = "";
        if (!calls.length) {
          var empty = document.createElement("tr");
          var cell = document.createElement("td");
          cell.colSpan = 6; cell.className = "muted"; cell.textContent = "Aucun appel en attente.";
          empty.appendChild(cell); rows.appendChild(empty);
          return;
        }
        calls.forEach(function (row) {
          var tr = document.createElement("tr");
          if (row.priority === "P0") { tr.classList.add("p0"); }
          if (row.overdue) { tr.classList.add("overdue"); }
          [row.position, TRACKS[row.queue] || row.queue, row.priority + (row.accompanied ? " (accompagné)" : ""),
            duration(row.wait_s), row.reason || "—", describe(row.location) || "—"].forEach(function (text) {
            var td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
          });
          rows.appendChild(tr);
        });
      });
  }

  function registerSoftphone() {
    if (body.dataset.emulator !== "1") { return; }
    api("POST", "/demo/api/clients/" + encodeURIComponent(identity)).then(function (result) {
      $("softphone").textContent = result.status < 300 ? "Softphone (émulateur) prêt : " + identity
        : "Softphone indisponible";
      if (result.status < 300) { window.setInterval(showSoftphone, 1500); }
    });
  }

  // In emulator mode the softphone line says who is on the line with this agent.
  function showSoftphone() {
    api("GET", "/demo/api/clients/" + encodeURIComponent(identity)).then(function (result) {
      if (result.status !== 200 || !result.body) { return; }
      var connected = result.body.connected || [];
      var ringing = result.body.ringing || [];
      var text = "Softphone (émulateur) : libre";
      if (connected.length) {
        text = "Softphone (émulateur) : en ligne avec " + (connected[0].other_party || connected[0].from);
      } else if (ringing.length) {
        text = "Softphone (émulateur) : sonne, appel de " + ringing[0].from;
      }
      $("softphone").textContent = text;
    });
  }

  $("go-available").addEventListener("click", function () { setPresence("available"); });
  $("go-paused").addEventListener("click", function () {
    var reason = window.prompt("Motif de la pause ?", "Pause");
    if (reason) { setPresence("paused", reason); }
  });
  $("go-offline").addEventListener("click", function () { setPresence("offline"); });
  $("take-next").addEventListener("click", takeNext);
  $("release").addEventListener("click", release);
  if ($("qualify-form")) { $("qualify-form").addEventListener("submit", qualify); }
  if ($("escalate-form")) { $("escalate-form").addEventListener("submit", escalate); }
  if ($("close-form")) { $("close-form").addEventListener("submit", closeCall); }
  if ($("decision-form")) { $("decision-form").addEventListener("submit", decide); }
  if ($("track-form")) { $("track-form").addEventListener("submit", changeTrack); }

  registerSoftphone();
  refreshMe().then(refreshQueue);
  window.setInterval(function () { refreshMe().then(refreshQueue); }, 2000);
  window.setInterval(tickClock, 1000);
}());
