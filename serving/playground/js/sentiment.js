// Sentiment: texts in; label, probability and each word shaded by the
// attention pooling's weight (the export's `explain` signature).
import { predict } from "./api.js";
import { busy, el, heat, submitOnCtrlEnter } from "./ui.js";

export function setup(panel, signatures) {
  const form = panel.querySelector("form");
  const text = panel.querySelector("#sentiment-text");
  const output = panel.querySelector("#sentiment-output");
  const explain = "explain" in signatures;
  submitOnCtrlEnter(form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const texts = text.value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!texts.length) {
      text.focus();
      return;
    }
    busy(panel, "Classifying…", async () => {
      const body = explain ? { signature_name: "explain", instances: texts } : { instances: texts };
      const { predictions } = await predict("sentiment", body);
      output.replaceChildren(
        ...predictions.map((row, i) => result(texts[i], row)),
        explain
          ? el("p", {
              class: "hint",
              text: "Words as the model reads them (lower-cased, punctuation split off); darker: more attention.",
            })
          : el("p", {
              class: "hint",
              text: "This export has no `explain` signature (it predates it): export it again for the attention shading.",
            }),
      );
    });
  });
}

function result(text, row) {
  const card = el(
    "article",
    { class: `sentiment-result ${row.label}` },
    el(
      "p",
      { class: "verdict" },
      el("span", { class: "label", text: row.label }),
      el("span", { class: "probability", text: `${(100 * row.probability).toFixed(1)} %` }),
    ),
  );
  if (!row.words) {
    card.append(el("p", { class: "text", text }));
    return card;
  }
  const words = row.words.filter((word) => word !== "");
  const weights = row.attention.slice(0, words.length);
  const most = Math.max(...weights, 1e-9);
  const line = el("p", { class: "words", "aria-label": text });
  words.forEach((word, i) => {
    line.append(
      el("span", {
        class: "word",
        text: word,
        title: `attention ${weights[i].toFixed(3)}`,
        "data-weight": weights[i].toFixed(4),
        style: `background:${heat(weights[i] / most)}`,
      }),
      " ",
    );
  });
  card.append(line);
  return card;
}
