/* The targets policy page: the version in force with each field's source, its history, and
   (for an admin) a form that saves a new version. */
"use strict";

(function () {
  var SAS = window.SAS;
  var PRIORITIES = ["P0", "P1", "P2", "P3", "NR"];

  function $(id) {
    return document.getElementById(id);
  }

  function input(name, value, editable, step) {
    var field = document.createElement("input");
    field.type = "number";
    field.name = name;
    field.value = String(value);
    field.min = "0";
    field.step = step || "1";
    field.readOnly = !editable;
    return field;
  }

  function render(policy) {
    var editable = $("objectifs").getAttribute("data-editable") === "oui";
    var current = policy.current;
    $("objectifs-version").textContent = current.version === 0
      ? "Défauts du projet (aucune modification enregistrée)."
      : "Version " + current.version + ", en vigueur depuis le " +
        new Date(current.effective_from).toLocaleString("fr-FR") + " (" + current.changed_by + ").";
    var box = $("objectifs-champs");
    SAS.clear(box);
    Object.keys(policy.fields).forEach(function (name) {
      var meta = policy.fields[name];
      var value = current.values[name];
      var group = document.createElement("fieldset");
      var legend = document.createElement("legend");
      legend.textContent = meta.label + (meta.unit === "s" ? " (secondes)" : "");
      group.appendChild(legend);
      if (typeof value === "object") {
        PRIORITIES.forEach(function (p) {
          var label = document.createElement("label");
          label.textContent = p + " ";
          label.appendChild(input(name + "." + p, value[p], editable));
          group.appendChild(label);
        });
      } else {
        var label = document.createElement("label");
        label.textContent = "Valeur ";
        label.appendChild(input(name, value, editable, meta.unit === "fraction" ? "0.001" : "1"));
        group.appendChild(label);
      }
      var source = document.createElement("p");
      source.className = "source";
      source.textContent = "Source du défaut : " + meta.source;
      group.appendChild(source);
      box.appendChild(group);
    });
    var body = document.querySelector("#historique tbody");
    SAS.clear(body);
    policy.history.forEach(function (v) {
      var row = document.createElement("tr");
      SAS.cell(row, v.version === 0 ? "défauts" : String(v.version), "row");
      SAS.cell(row, v.version === 0 ? "—" : new Date(v.effective_from).toLocaleString("fr-FR"));
      SAS.cell(row, v.changed_by);
      SAS.cell(row, v.note || "");
      SAS.cell(row, JSON.stringify(v.values));
      body.appendChild(row);
    });
  }

  function load() {
    fetch("/api/policy/targets", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(render);
  }

  function save(event) {
    event.preventDefault();
    var changes = {};
    Array.prototype.forEach.call(document.querySelectorAll("#objectifs-champs input"), function (field) {
      var parts = field.name.split(".");
      var value = Number(field.value);
      if (parts.length === 2) {
        changes[parts[0]] = changes[parts[0]] || {};
        changes[parts[0]][parts[1]] = value;
      } else {
        changes[parts[0]] = value;
      }
    });
    var note = $("note").value.trim();
    if (note) {
      changes.note = note;
    }
    fetch("/api/policy/targets", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": SAS.csrf() },
      body: JSON.stringify(changes)
    })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      })
      .then(function (answer) {
        if (answer.ok) {
          $("objectifs-message").textContent = "Nouvelle version enregistrée.";
          render(answer.body);
        } else {
          $("objectifs-message").textContent = "Refusé (" + answer.body.field + ") : " + answer.body.error;
        }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if ($("objectifs").getAttribute("data-editable") === "oui") {
      $("objectifs").addEventListener("submit", save);
    }
    load();
  });
})();
