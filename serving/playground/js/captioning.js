// Captioning: an image in (a sample scene or the user's PNG/JPEG, as base64);
// the caption and, word by word, the attention over the image's grid out.
import { base64, predict } from "./api.js";
import { busy, dropZone, el, showError } from "./ui.js";
import { upToEnd } from "./translation.js";

const SAMPLES = ["scene-1.png", "scene-2.png", "scene-3.png", "scene-4.png"];

export function setup(panel, signatures) {
  const form = panel.querySelector("form");
  const output = panel.querySelector("#captioning-output");
  const samples = panel.querySelector("#captioning-samples");
  let image = null; // {bytes: ArrayBuffer, url}

  async function choose(source, label) {
    const bytes = await (typeof source === "string" ? (await fetch(source)).arrayBuffer() : source.arrayBuffer());
    image = { bytes, url: URL.createObjectURL(new Blob([bytes])), label };
  }
  SAMPLES.forEach((name, i) => {
    const input = el("input", { type: "radio", name: "captioning-sample", value: name, checked: i === 0 });
    input.addEventListener("change", () => choose(`samples/${name}`, name));
    samples.append(
      el("label", { class: "sample" }, input, el("img", { src: `samples/${name}`, alt: `sample scene ${i + 1}` })),
    );
  });
  const first = choose(`samples/${SAMPLES[0]}`, SAMPLES[0]);
  dropZone(panel.querySelector(".drop"), panel.querySelector("#captioning-file"), async (file) => {
    if (!/^image\/(png|jpeg)$/.test(file.type)) {
      showError(panel, new Error(`${file.name} is not a PNG or JPEG image`));
      return;
    }
    samples.querySelectorAll("input").forEach((input) => (input.checked = false));
    await choose(file, file.name);
    form.requestSubmit();
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = form.querySelector('[name="captioning-search"]:checked').value;
    busy(panel, "Captioning…", async () => {
      await first;
      const encoded = { b64: base64(image.bytes) };
      const [best] = (await predict("captioning", { signature_name: search, instances: [encoded] }))
        .predictions;
      const parts = [
        el("figure", { class: "picked" },
          el("img", { src: image.url, alt: image.label }),
          el("figcaption", { class: "caption", text: best.caption || "(nothing)" }),
        ),
      ];
      if ("attention" in signatures) {
        // `grid` is not batched: only the columnar form can carry it.
        const { outputs } = await predict("captioning", {
          signature_name: "attention",
          inputs: { image: [encoded], ids: [best.ids] },
        });
        const { tokens, weights } = upToEnd(outputs.tokens[0], outputs.weights[0]);
        parts.push(
          el("h3", { text: "Where the decoder looked, word by word" }),
          el("div", { class: "attention-words" },
            ...tokens.map((token, i) => overlay(image.url, token, weights[i], outputs.grid)),
          ),
        );
      }
      output.replaceChildren(...parts);
    });
  });
}

function overlay(url, token, weights, [rows, columns]) {
  const most = Math.max(...weights, 1e-9);
  const cells = el("div", {
    class: "cells",
    style: `grid-template-columns: repeat(${columns}, 1fr); grid-template-rows: repeat(${rows}, 1fr)`,
  });
  weights.forEach((weight) =>
    cells.append(el("span", { style: `background:rgba(0, 0, 0, ${(0.78 * (1 - weight / most)).toFixed(3)})`, "data-weight": weight.toFixed(4) })),
  );
  return el("figure", { class: "word-attention" },
    el("div", { class: "stack" }, el("img", { src: url, alt: "" }), cells),
    el("figcaption", { text: token }),
  );
}
