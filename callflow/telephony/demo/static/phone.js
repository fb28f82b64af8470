// The demo patient phone: dial the SAS number through the service's relay to the
// Twilio emulator, press keys, say a phrase, hang up, and read what the IVR says.
"use strict";
(function () {
  const root = document.getElementById("phone");
  const api = root.dataset.api;
  const statusLine = document.getElementById("status");
  const transcript = document.getElementById("transcript");
  const hangupButton = document.getElementById("hangup");
  const dialButton = document.getElementById("dial");
  const speech = document.getElementById("speech");
  const sayButton = document.getElementById("say");
  const keys = Array.from(document.querySelectorAll(".key"));
  let callSid = null;
  let timer = null;
  let shown = 0;

  function inCall(active) {
    hangupButton.disabled = !active;
    dialButton.disabled = active;
    speech.disabled = !active;
    sayButton.disabled = !active;
    keys.forEach((k) => { k.disabled = !active; });
  }

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) { throw new Error(data.error || answer.statusText); }
    return data;
  }

  function describe(call) {
    if (call.status === "completed" || call.status === "failed" || call.status === "busy" ||
        call.status === "no-answer" || call.status === "canceled") {
      return "Appel terminé.";
    }
    if (call.bridged_with) { return "En communication avec " + call.bridged_with.party + "."; }
    if (call.queue) {
      return "En attente (" + call.queue.name + "), " + call.queue.waited_s + " s.";
    }
    if (call.gathering) { return "Le serveur vocal attend votre choix."; }
    return "Appel en cours (" + call.status + ").";
  }

  const SILENT = new Set(["gather", "gather-result", "dequeue", "pause", "input-ignored",
    "dial-result"]);

  function narrate(entry) {
    switch (entry.kind) {
      case "say": return entry.text;
      case "pressed": return "▶ Vous tapez " + entry.digits;
      case "spoke": return "▶ Vous dites : « " + entry.text + " »";
      case "enqueue": return "(mise en attente)";
      case "bridged": return "(en communication avec " + entry.party + ")";
      case "unbridged": return "(fin de la communication)";
      case "hangup": return "(appel terminé)";
      case "play": return "(musique d'attente)";
      default:
        return SILENT.has(entry.kind) ? null : entry.text || "(" + entry.kind + ")";
    }
  }

  async function refresh() {
    const sid = callSid;
    if (!sid) { return; }
    const answer = await fetch(api + "/" + encodeURIComponent(sid));
    if (!answer.ok) { return; }
    const call = await answer.json();
    // An answer that comes back after the call was hung up or replaced is stale: it must
    // not overwrite what the page now says ("Vous avez raccroché.").
    if (sid !== callSid) { return; }
    statusLine.textContent = describe(call);
    const entries = call.transcript || [];
    for (; shown < entries.length; shown += 1) {
      const entry = entries[shown];
      const item = document.createElement("li");
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = "+" + Math.round(entry.t || entry.at_s || 0) + " s";
      const line = narrate(entry);
      if (!line) { continue; }
      item.appendChild(time);
      item.appendChild(document.createTextNode(line));
      transcript.appendChild(item);
    }
    if (statusLine.textContent === "Appel terminé.") { stop(); }
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    callSid = null;
    inCall(false);
  }

  document.getElementById("dial-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    transcript.textContent = "";
    shown = 0;
    try {
      const data = await post(api, {
        from: document.getElementById("caller").value,
        to: document.getElementById("dialled").value,
      });
      callSid = data.call_sid;
      inCall(true);
      statusLine.textContent = "Appel en cours…";
      timer = setInterval(refresh, 700);
    } catch (error) {
      statusLine.textContent = "Échec de l'appel : " + error.message;
    }
  });

  hangupButton.addEventListener("click", async () => {
    if (!callSid) { return; }
    await post(api + "/" + encodeURIComponent(callSid) + "/hangup").catch(() => {});
    await refresh();
    stop();
    statusLine.textContent = "Vous avez raccroché.";
  });

  keys.forEach((key) => key.addEventListener("click", async () => {
    if (!callSid) { return; }
    await post(api + "/" + encodeURIComponent(callSid) + "/input", { digits: key.dataset.key })
      .catch((error) => { statusLine.textContent = error.message; });
  }));

  document.getElementById("speech-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!callSid || !speech.value.trim()) { return; }
    await post(api + "/" + encodeURIComponent(callSid) + "/input", { speech: speech.value })
      .catch((error) => { statusLine.textContent = error.message; });
    speech.value = "";
  });
})();
