// Translation: a Spanish sentence in; the translation (beam or greedy search)
// and the attention heat-map (the export's `attention` signature) out.
import { predict } from "./api.js";
import { busy, el, heatmapTable } from "./ui.js";

/** The rows of an `attention` answer up to and including `[END]`, padding dropped. */
export function upToEnd(tokens, weights) {
  const end = tokens.indexOf("[END]");
  const keep = end < 0 ? tokens.findIndex((token) => token === "") : end + 1;
  const n = keep < 0 ? tokens.length : keep;
  return { tokens: tokens.slice(0, n), weights: weights.slice(0, n) };
}

export function setup(panel, signatures) {
  const form = panel.querySelector("form");
  const text = panel.querySelector("#translation-text");
  const output = panel.querySelector("#translation-output");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const sentence = text.value.trim();
    if (!sentence) return text.focus();
    const search = form.querySelector('[name="translation-search"]:checked').value;
    busy(panel, "Translating…", async () => {
      const [best] = (await predict("translation", { signature_name: search, instances: [sentence] }))
        .predictions;
      const parts = [
        el("p", { class: "translation", lang: "en", text: best.translation || "(nothing)" }),
        el("p", {
          class: "hint",
          text: `${search === "greedy" ? "greedy" : "beam"} search, log-probability ${best.score.toFixed(3)}`,
        }),
      ];
      if ("attention" in signatures) {
        // `grid`-free, but the answer may be ragged: ask in the columnar form.
        const { outputs } = await predict("translation", {
          signature_name: "attention",
          inputs: { text: [sentence], ids: [best.ids] },
        });
        const source = outputs.source_tokens[0].filter((token) => token !== "");
        const { tokens, weights } = upToEnd(outputs.target_tokens[0], outputs.weights[0]);
        parts.push(
          heatmapTable("Where the decoder looked (rows: words it wrote; columns: source words)", tokens, source, weights),
        );
      }
      output.replaceChildren(...parts);
    });
  });
}
