// What every tab shares: the busy state, errors in place, small DOM helpers,
// drop zones and the attention colour scale.

/** `el("tag", {attr: value}, ...children)`: an element; `class` and `text` are attributes too. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** The same in the SVG namespace. */
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/**
 * Runs `work()` with the panel marked busy (its button disabled, `aria-busy`,
 * a status line) and shows what it throws in the panel's error line.
 */
export async function busy(panel, label, work) {
  const status = panel.querySelector(".busy");
  const error = panel.querySelector(".error");
  const buttons = panel.querySelectorAll("form button");
  error.hidden = true;
  error.textContent = "";
  panel.setAttribute("aria-busy", "true");
  buttons.forEach((button) => (button.disabled = true));
  status.textContent = label;
  try {
    await work();
    status.textContent = "";
  } catch (problem) {
    status.textContent = "";
    showError(panel, problem);
  } finally {
    panel.removeAttribute("aria-busy");
    buttons.forEach((button) => (button.disabled = false));
  }
}

/** Shows an error (the server's `error`, or any Error) in the panel's alert line. */
export function showError(panel, problem) {
  const error = panel.querySelector(".error");
  const where = problem && problem.name === "ServerError" ? "The server says: " : "";
  error.textContent = where + (problem && problem.message ? problem.message : String(problem));
  error.hidden = false;
}

/** Lets a `.drop` zone take a dropped file for its file input (which the keyboard reaches). */
export function dropZone(zone, input, onFile) {
  input.addEventListener("change", () => input.files[0] && onFile(input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) onFile(file);
  });
}

/** A weight in [0, 1] as a background colour (transparent to the accent colour). */
export function heat(weight) {
  const w = Math.max(0, Math.min(1, weight));
  return `rgba(214, 90, 24, ${(0.08 + 0.82 * w).toFixed(3)})`;
}

/** Ctrl+Enter (or Cmd+Enter) in a textarea submits its form. */
export function submitOnCtrlEnter(form) {
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

/**
 * A table of attention weights: one row per output word (`rows`), one column
 * per input position (`columns`), each row scaled to its own maximum.
 */
export function heatmapTable(caption, rows, columns, weights) {
  const head = el("tr", {}, el("th", { scope: "col", text: "" }));
  columns.forEach((column) => head.append(el("th", { scope: "col", text: column })));
  const body = el("tbody");
  rows.forEach((row, i) => {
    const line = el("tr", { class: "word" }, el("th", { scope: "row", text: row }));
    const most = Math.max(...weights[i].slice(0, columns.length), 1e-9);
    columns.forEach((column, j) => {
      const weight = weights[i][j];
      line.append(
        el("td", {
          style: `background:${heat(weight / most)}`,
          title: `${row} ← ${column}: ${weight.toFixed(3)}`,
          "data-weight": weight.toFixed(4),
        }),
      );
    });
    body.append(line);
  });
  return el(
    "div",
    { class: "scroll" },
    el("table", { class: "heatmap" }, el("caption", { text: caption }), el("thead", {}, head), body),
  );
}
