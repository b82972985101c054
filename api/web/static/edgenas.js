// EdgeNAS web UI: live parts, plots, sortable tables, compare and API actions.
// Parts marked data-live are re-fetched from the server (the page's own template, rendered
// alone) and swapped in place; a part that can no longer change says so (X-Final header).
"use strict";

const POLL_MS = 2000;
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

// ---- live parts ---------------------------------------------------------------------------
function pollPart(element) {
  const url = element.dataset.live;
  const tick = async () => {
    if (element.hasAttribute("data-final")) return;
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, redirect: "manual" });
      if (response.type === "opaqueredirect") {
        window.location.reload(); // signed out meanwhile: the page itself goes to sign-in
        return;
      }
      if (response.ok) {
        const checked = new Set(
          [...element.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value),
        );
        const html = await response.text();
        const holder = document.createElement("template");
        holder.innerHTML = html;
        element.replaceChildren(holder.content);
        element.querySelectorAll("input[type=checkbox]").forEach((box) => {
          box.checked = checked.has(box.value);
        });
        if (response.headers.get("X-Final")) element.setAttribute("data-final", "");
        element.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
      }
    } catch (error) {
      console.warn("refresh failed", error);
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

// ---- plots --------------------------------------------------------------------------------
function drawFigure(target, figure) {
  window.Plotly.react(target, figure.data, figure.layout, { responsive: true, displaylogo: false });
}

function pollFigures(container) {
  const url = container.dataset.figures;
  const tick = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const body = await response.json();
        // every plot's box first, then the drawing: Plotly sizes a plot by its box once the
        // grid knows how many there are (a redraw later would clear a tooltip being read)
        const targets = Object.keys(body.figures).map((name) => {
          let target = container.querySelector(`[data-plot="${name}"]`);
          if (!target) {
            target = document.createElement("div");
            target.className = "plot";
            target.dataset.plot = name;
            target.setAttribute("role", "img");
            target.setAttribute("aria-label", body.figures[name].layout.title.text);
            container.append(target);
          }
          return [target, body.figures[name]];
        });
        for (const [target, figure] of targets) drawFigure(target, figure);
        if (body.final) {
          container.setAttribute("data-final", "");
          return;
        }
      }
    } catch (error) {
      console.warn("plots failed", error);
    }
    setTimeout(tick, POLL_MS);
  };
  tick();
}

// ---- sortable, filterable tables ----------------------------------------------------------
function sortable(table) {
  const body = table.tBodies[0];
  let key = 0;
  let ascending = true;
  const cellValue = (row) => {
    const cell = row.cells[key + 1]; // the first column holds the compare boxes
    const raw = cell?.dataset.value ?? cell?.textContent ?? "";
    const number = Number(raw);
    return Number.isNaN(number) ? raw : number;
  };
  const apply = () => {
    const rows = [...body.rows].filter((row) => row.dataset.trial !== undefined);
    rows.sort((a, b) => {
      const x = cellValue(a);
      const y = cellValue(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    body.append(...rows);
    table.querySelectorAll("th").forEach((th) => th.removeAttribute("aria-sort"));
    const th = table.querySelector(`[data-sort-key="${key}"]`)?.closest("th");
    th?.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    filter();
  };
  const input = document.querySelector(`[data-filter-for="${table.id}"]`);
  const filter = () => {
    const words = (input?.value ?? "").toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of body.rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
    }
  };
  table.querySelectorAll("[data-sort-key]").forEach((button) => {
    button.addEventListener("click", () => {
      const chosen = Number(button.dataset.sortKey);
      ascending = chosen === key ? !ascending : true;
      key = chosen;
      apply();
    });
  });
  input?.addEventListener("input", filter);
  table.addEventListener("live:updated", apply);
}

// ---- compare 2 to 5 trials ----------------------------------------------------------------
function compareButton(button) {
  const update = () => {
    const chosen = document.querySelectorAll(`input[name="trials"][form="${button.form.id}"]:checked`);
    button.disabled = chosen.length < 2 || chosen.length > 5;
    button.textContent = `Compare selected (${chosen.length} of 2–5)`;
  };
  document.addEventListener("change", (event) => {
    if (event.target.matches?.('input[name="trials"]')) update();
  });
  document.addEventListener("live:updated", update);
  update();
}

// ---- actions through the REST API ---------------------------------------------------------
function apiForm(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const status = form.querySelector('[role="status"]');
    const body = {};
    if (form.hasAttribute("data-json")) {
      for (const input of form.querySelectorAll("input[name]")) {
        if (input.dataset.type === "bool") body[input.name] = input.checked;
        else if (input.dataset.type === "int") body[input.name] = Number.parseInt(input.value, 10);
        else body[input.name] = input.value;
      }
    }
    const response = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (status) {
      status.textContent = response.ok
        ? summarise(answer)
        : `Refused: ${answer.error?.message ?? response.statusText}`;
      status.className = response.ok ? "ok" : "error";
    }
  });
}

function summarise(answer) {
  if (answer.task_ids !== undefined) {
    return `Queued ${answer.task_ids.length} measurements (${answer.already_measured} already measured).`;
  }
  if (answer.state !== undefined) return `Job ${answer.id}: ${answer.state}${answer.cancel_requested ? ", cancelling" : ""}.`;
  return "Done.";
}

// ---- start --------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(pollPart);
  document.querySelectorAll("[data-figures]").forEach(pollFigures);
  document.querySelectorAll("[data-figure]").forEach((element) => {
    drawFigure(element, JSON.parse(element.dataset.figure));
  });
  document.querySelectorAll("table[data-sortable]").forEach(sortable);
  document.querySelectorAll("[data-compare]").forEach(compareButton);
  document.querySelectorAll("form[data-api]").forEach(apiForm);
  document.addEventListener("live:updated", (event) => {
    event.target.querySelectorAll?.("form[data-api]").forEach(apiForm);
  });
});
