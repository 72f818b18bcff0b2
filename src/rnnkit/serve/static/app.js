// The page's few behaviours: list the models and their types, tag the text, show the names,
// ŷ and the JSON.
// Text from the user and the server is set with textContent only, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function percent(x) {
  return x == null ? "?" : (100 * x).toFixed(1);
}

async function answer(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail;
    const message = Array.isArray(detail)
      ? detail.map((d) => d.msg).join("; ")
      : detail || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

// A box for each entity type the model learned, those it shows ticked; with one type, none.
function typeBoxes(info) {
  const boxes = info.learned.length > 1 ? info.learned : [];
  $("types").replaceChildren(...boxes.map((type) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = type;
    box.checked = info.types.includes(type);
    label.append(box, type);
    return label;
  }));
}

async function showModel() {
  const info = await answer(await fetch(`/model?model=${encodeURIComponent($("model").value)}`));
  typeBoxes(info);
  const valid = info.scores.valid;
  $("model-info").textContent =
    `task ${info.task}, types ${info.types.join(", ")}` +
    (valid ? `, dev F1 ${percent(valid.f1)}%` : "") +
    (info.scores.test ? `, test F1 ${percent(info.scores.test.f1)}%` : "");
}

async function loadModels() {
  const { models } = await answer(await fetch("/models"));
  for (const name of models) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    $("model").append(option);
  }
  await showModel();
}

// Offsets count Unicode code points, as Python does; JavaScript strings count UTF-16 units.
function render(result) {
  const chars = Array.from(result.text);
  const slice = (start, end) => chars.slice(start, end).join("");
  const marked = $("marked");
  marked.replaceChildren();
  let at = 0;
  let entity = null;
  const entities = result.entities.slice();
  for (const token of result.tokens) {
    if (!entity && entities.length && entities[0].start === token.start) {
      marked.append(slice(at, token.start));
      at = token.start;
      const e = entities.shift();
      entity = document.createElement("mark");
      entity.className = "entity";
      entity.dataset.type = e.type;
      entity.dataset.start = e.start;
      entity.dataset.end = e.end;
      marked.append(entity);
    }
    const span = document.createElement("span");
    span.className = "token";
    span.textContent = slice(token.start, token.end);
    span.title = `${token.label}  ŷ = ${token.prob.toFixed(4)}`;
    (entity || marked).append(slice(at, token.start), span);
    at = token.end;
    if (entity && token.end === Number(entity.dataset.end)) {
      entity.title = `${entity.dataset.type} ${entity.dataset.start}–${entity.dataset.end}`;
      entity = null;
    }
  }
  marked.append(slice(at, chars.length));

  const rows = result.entities.map((e) => {
    const inside = result.tokens.filter((t) => t.start >= e.start && t.end <= e.end);
    const low = Math.min(...inside.map((t) => t.prob));
    const row = document.createElement("tr");
    for (const [value, numeric] of [[e.text], [e.type], [e.start, 1], [e.end, 1], [low.toFixed(4), 1]]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      if (numeric) cell.className = "num";
      row.append(cell);
    }
    return row;
  });
  $("entities").tBodies[0].replaceChildren(...rows);
  $("json").textContent = JSON.stringify(result, null, 2);
  $("output").hidden = false;
}

async function tag(event) {
  event.preventDefault();
  $("error").hidden = true;
  $("tag").disabled = true;
  $("status").textContent = "tagging…";
  try {
    const boxes = Array.from($("types").querySelectorAll("input"));
    const show = boxes.length
      ? `&show=${encodeURIComponent(boxes.filter((b) => b.checked).map((b) => b.value).join(","))}`
      : "";
    const response = await fetch(`/tag?model=${encodeURIComponent($("model").value)}${show}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("text").value }),
    });
    const result = await answer(response);
    render(result);
    $("status").textContent = `${result.entities.length} name(s)`;
  } catch (error) {
    $("error").textContent = error.message;
    $("error").hidden = false;
    $("status").textContent = "";
  } finally {
    $("tag").disabled = false;
  }
}

$("form").addEventListener("submit", tag);
$("model").addEventListener("change", () => showModel().catch((e) => {
  $("error").textContent = e.message;
  $("error").hidden = false;
}));
loadModels().catch((e) => {
  $("error").textContent = e.message;
  $("error").hidden = false;
});
