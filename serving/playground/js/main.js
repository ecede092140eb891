// The tabs: one per app. Each asks `/v1/models/<app>/metadata` once; a model
// the server does not serve shows how to train it, a served one gets its form.
import { metadata } from "./api.js";
import { setup as captioning } from "./captioning.js";
import { setup as music } from "./music.js";
import { setup as sentiment } from "./sentiment.js";
import { setup as stocks } from "./stocks.js";
import { setup as translation } from "./translation.js";

const APPS = { sentiment, stocks, music, translation, captioning };
const tabs = [...document.querySelectorAll('[role="tab"]')];

function select(tab, focus = true) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  history.replaceState(null, "", `#${tab.dataset.app}`);
}

// The WAI-ARIA tabs pattern: arrows, Home and End move between tabs.
document.querySelector('[role="tablist"]').addEventListener("keydown", (event) => {
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  select(tabs[(next + tabs.length) % tabs.length]);
});
tabs.forEach((tab) => tab.addEventListener("click", () => select(tab)));
select(tabs.find((tab) => `#${tab.dataset.app}` === location.hash) || tabs[0], false);

async function start(app) {
  const panel = document.getElementById(`panel-${app}`);
  const tab = document.getElementById(`tab-${app}`);
  let signatures;
  try {
    signatures = await metadata(app);
  } catch (problem) {
    panel.querySelector("form").hidden = true;
    const error = panel.querySelector(".error");
    error.textContent = `Could not ask the server about ${app}: ${problem.message}`;
    error.hidden = false;
    return false;
  }
  if (signatures === null) {
    panel.querySelector("form").hidden = true;
    panel.querySelector(".missing").hidden = false;
    tab.classList.add("absent");
    tab.title = "not exported: make " + app;
    return false;
  }
  await APPS[app](panel, signatures);
  panel.dataset.ready = "true";
  return true;
}

const served = await Promise.all(Object.keys(APPS).map(start));
const names = Object.keys(APPS).filter((_, i) => served[i]);
document.getElementById("server-note").textContent = names.length
  ? `this server serves ${names.join(", ")}.`
  : "this server serves none of the five apps yet: `make sentiment && make serve`.";
document.body.dataset.ready = "true";
