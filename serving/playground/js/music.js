// Music: a prefix and sampling options in (the export's `sample` signature); the
// tune out, drawn as sheet music and played by abcjs, with .abc and .mid files.
import { predict } from "./api.js";
import { busy, el } from "./ui.js";

const SOUNDS = "vendor/soundfont/"; // tones written by tools/vendor.mjs; nothing from the internet

/**
 * Why a tune may not parse, as far as the browser can tell (a list; empty: none
 * seen). The suite counts a tune as parsed when music21 reads it; music21 does not
 * run here, so these are abcjs's warnings and the header checks ABC itself asks for.
 */
export function problems(abc, visual) {
  const found = [];
  const lines = abc.split("\n");
  if (!/^X:\s*\d+/.test(lines[0] || "")) found.push("it does not start with an X: line");
  const key = lines.findIndex((line) => /^K:/.test(line));
  if (key < 0) found.push("its header has no K: line");
  else if (lines.slice(key + 1).every((line) => !line.trim()))
    found.push("it has no music after its header");
  for (const warning of visual?.warnings || []) {
    found.push(`abcjs: ${warning.replace(/<[^>]*>/g, "")}`);
  }
  return found;
}

export function setup(panel, signatures) {
  const form = panel.querySelector("form");
  const output = panel.querySelector("#music-output");
  const value = (id) => panel.querySelector(`#music-${id}`).value;
  let stop = () => {};

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    stop();
    busy(panel, "Sampling a tune…", async () => {
      const inputs = {
        prefix: value("prefix"),
        length: Math.round(Number(value("length"))),
        temperature: Number(value("temperature")),
        seed: Math.round(Number(value("seed"))),
      };
      // Scalar inputs: the columnar form. `sample` adds top-k and top-p.
      const body = "sample" in signatures
        ? {
            signature_name: "sample",
            inputs: { ...inputs, num: 1, top_k: Math.round(Number(value("top-k"))), top_p: Number(value("top-p")) },
          }
        : { inputs };
      const { outputs } = await predict("music", body);
      const abc = Array.isArray(outputs.abc) ? outputs.abc[0] : outputs.abc;
      const finished = Array.isArray(outputs.finished) ? outputs.finished[0] : outputs.finished;
      stop = show(output, abc, finished, inputs.seed);
    });
  });
}

function download(name, type, data) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  return el("a", { class: "download", href: url, download: name, text: name });
}

function show(output, abc, finished, seed) {
  const score = el("div", { class: "score", "aria-label": "the tune as sheet music" });
  const status = el("p", { class: "play-status", role: "status", "aria-live": "polite" });
  const play = el("button", { type: "button", class: "play", text: "▶ Play" });
  const labels = el("div", { class: "labels" });
  output.replaceChildren(
    labels,
    score,
    el("div", { class: "actions" }, play, status),
    el("details", {}, el("summary", { text: "ABC text" }), el("pre", { class: "abc", text: abc })),
  );
  if (!finished)
    labels.append(el("p", { class: "tag", text: "Unfinished: it reached the length limit before the model ended it." }));
  if (!window.ABCJS) {
    labels.append(
      el("p", {
        class: "tag warn",
        text: "abcjs is not installed (serving/playground/vendor/): run `make install` with node 18+ for sheet music and sound.",
      }),
      el("div", { class: "downloads" }, download(`tune-${seed}.abc`, "text/vnd.abc", abc)),
    );
    play.disabled = true;
    return () => {};
  }
  const [visual] = window.ABCJS.renderAbc(score, abc, { responsive: "resize", add_classes: true });
  const found = problems(abc, visual);
  if (found.length) {
    labels.append(
      el("div", { class: "tag warn unparsable" },
        el("strong", { text: "May not parse. " }),
        "The suite counts a tune as valid when music21 reads it; music21 does not run in a browser, so this label " +
          "comes from abcjs and from ABC's header rules. Here: ",
        el("ul", {}, ...found.slice(0, 5).map((text) => el("li", { text }))),
      ),
    );
  } else {
    labels.append(el("p", { class: "tag ok", text: "Reads as ABC (abcjs found no problem)." }));
  }
  const midi = window.ABCJS.synth.getMidiFile(visual, { midiOutputType: "binary" });
  output.append(
    el("div", { class: "downloads" },
      download(`tune-${seed}.abc`, "text/vnd.abc", abc),
      download(`tune-${seed}.mid`, "audio/midi", midi),
    ),
  );

  let synth = null;
  const stop = () => {
    if (synth) synth.stop();
    synth = null;
    play.textContent = "▶ Play";
    status.textContent = "";
  };
  if (!window.ABCJS.synth.supportsAudio()) {
    play.disabled = true;
    status.textContent = "This browser cannot play audio.";
    return stop;
  }
  play.addEventListener("click", async () => {
    if (synth) return stop();
    play.disabled = true;
    status.textContent = "Preparing the sound…";
    try {
      synth = new window.ABCJS.synth.CreateSynth();
      await synth.init({
        visualObj: visual,
        options: { soundFontUrl: SOUNDS, onEnded: () => stop() },
      });
      await synth.prime();
      synth.start();
      play.textContent = "■ Stop";
      status.textContent = "Playing.";
    } catch (problem) {
      synth = null;
      status.textContent = `Cannot play: ${problem.message || problem}`;
    } finally {
      play.disabled = false;
    }
  });
  return stop;
}
