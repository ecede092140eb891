// Drives the playground page in headless Chromium (puppeteer-core and
// @sparticuz/chromium from the repository's node_modules) and writes what it saw
// as JSON, for test_playground.py to check.
//
// Usage: node tests/browser/drive.mjs URL OUT.json [SCREENSHOT_DIR]
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import chromium from "@sparticuz/chromium";
import puppeteer from "puppeteer-core";

const [url, out, shots] = process.argv.slice(2);
const WAIT = { timeout: 90_000 };
const result = { console: [], tabs: {} };
let phase = "load";

const browser = await puppeteer.launch({
  args: chromium.args,
  executablePath: await chromium.executablePath(),
  headless: "shell",
  defaultViewport: { width: 1000, height: 800 },
});
try {
  const page = await browser.newPage();
  page.on("console", (message) => {
    if (["error", "warn"].includes(message.type()))
      result.console.push({ phase, type: message.type(), text: message.text(), url: message.location()?.url ?? null });
  });
  page.on("pageerror", (error) => result.console.push({ phase, type: "pageerror", text: String(error) }));
  page.on("requestfailed", (request) =>
    result.console.push({ phase, type: "requestfailed", text: `${request.url()} ${request.failure()?.errorText}` }),
  );

  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready]", WAIT);
  result.served = await page.$eval("#server-note", (node) => node.textContent);

  // A request held back 400 ms, to see the busy state while it runs; the sample
  // prices answered 404, as before `make stocks` writes them.
  let hold = false;
  let noSamples = false;
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    if (hold && request.url().endsWith(":predict")) setTimeout(() => request.continue(), 400);
    else if (noSamples && request.url().endsWith("/samples/stocks.csv"))
      request.respond({
        status: 404,
        contentType: "application/json",
        body: JSON.stringify({ error: "Not found: /samples/stocks.csv" }),
      });
    else request.continue();
  });

  async function open(app) {
    phase = app;
    await page.click(`#tab-${app}`);
    await page.waitForSelector(`#panel-${app}:not([hidden])`, WAIT);
  }
  async function submit(app, done) {
    await page.click(`#panel-${app} form button[type="submit"]`);
    await page.waitForFunction(
      (app, done) => {
        const panel = document.getElementById(`panel-${app}`);
        return !panel.hasAttribute("aria-busy") &&
          (panel.querySelector(done) || !panel.querySelector(".error").hidden);
      },
      WAIT,
      app,
      done,
    );
    return page.$eval(`#panel-${app} .error`, (node) => (node.hidden ? null : node.textContent));
  }
  async function shoot(app) {
    if (shots) await page.screenshot({ path: join(shots, `playground-${app}.png`), fullPage: true });
  }

  // Sentiment, with the busy state looked at while the request is held.
  await open("sentiment");
  hold = true;
  await page.click("#panel-sentiment form button[type=submit]");
  const busy = await page.waitForSelector('#panel-sentiment[aria-busy="true"] form button:disabled', WAIT)
    .then(() => page.$eval("#panel-sentiment .busy", (node) => node.textContent));
  await page.waitForSelector("#panel-sentiment:not([aria-busy]) .sentiment-result", WAIT);
  hold = false;
  result.tabs.sentiment = await page.$eval("#panel-sentiment", (panel) => ({
    busy: null,
    error: panel.querySelector(".error").hidden ? null : panel.querySelector(".error").textContent,
    results: [...panel.querySelectorAll(".sentiment-result")].map((card) => ({
      label: card.querySelector(".label").textContent,
      probability: card.querySelector(".probability").textContent,
      words: [...card.querySelectorAll(".word")].map((word) => [word.textContent, Number(word.dataset.weight)]),
    })),
  }));
  result.tabs.sentiment.busy = busy;
  await shoot("sentiment");

  await open("stocks");
  const stocksError = await submit("stocks", ".chart");
  result.tabs.stocks = await page.$eval("#panel-stocks", (panel) => ({
    tickers: [...panel.querySelectorAll("#stocks-ticker option")].map((option) => option.value),
    series: Object.fromEntries(
      [...panel.querySelectorAll(".chart [data-series]")].map((node) => [
        node.dataset.series,
        node.getAttribute("points").trim().split(/\s+/).length,
      ]),
    ),
    rows: panel.querySelectorAll(".numbers tbody tr").length,
  }));
  result.tabs.stocks.error = stocksError;
  await shoot("stocks");

  await open("music");
  const musicError = await submit("music", ".score");
  result.tabs.music = await page.$eval("#panel-music", (panel) => ({
    notes: panel.querySelectorAll(".score svg .abcjs-note").length,
    svg: panel.querySelectorAll(".score svg").length,
    label: panel.querySelector(".tag.ok, .unparsable")?.textContent ?? null,
    downloads: [...panel.querySelectorAll("a.download")].map((link) => [link.download, link.href.slice(0, 5)]),
    abc: panel.querySelector(".abc").textContent,
  }));
  result.tabs.music.error = musicError;
  await page.click("#panel-music button.play");
  await page.waitForFunction(
    () => /Playing|Cannot|cannot/.test(document.querySelector("#panel-music .play-status").textContent),
    WAIT,
  );
  result.tabs.music.play = await page.$eval("#panel-music .play-status", (node) => node.textContent);
  await shoot("music");

  await open("translation");
  await page.click("#translation-text", { clickCount: 3 });
  await page.type("#translation-text", "¿tres coche negro?"); // the tiny model's toy language
  const translationError = await submit("translation", ".heatmap");
  result.tabs.translation = await page.$eval("#panel-translation", (panel) => ({
    translation: panel.querySelector(".translation").textContent,
    rows: [...panel.querySelectorAll(".heatmap tbody tr th")].map((th) => th.textContent),
    columns: panel.querySelectorAll(".heatmap thead th").length - 1,
  }));
  result.tabs.translation.error = translationError;
  await shoot("translation");

  await open("captioning");
  await page.click("#panel-captioning input[value=greedy]"); // the tiny model says more greedily
  const captioningError = await submit("captioning", ".caption");
  result.tabs.captioning = await page.$eval("#panel-captioning", (panel) => ({
    caption: panel.querySelector(".caption").textContent,
    words: [...panel.querySelectorAll(".word-attention figcaption")].map((node) => node.textContent),
    cells: panel.querySelector(".word-attention .cells")?.children.length ?? 0,
  }));
  result.tabs.captioning.error = captioningError;
  await shoot("captioning");

  // A request the server refuses: its JSON `error` appears in place.
  await open("music");
  phase = "server-error";
  await page.$eval("#music-prefix", (node) => (node.value = "X:1\n€€€\n"));
  result.serverError = await submit("music", ".never");

  // The keyboard alone: arrows and End move between tabs; Ctrl+Enter sends.
  phase = "keyboard";
  await page.focus("#tab-sentiment");
  await page.keyboard.press("Enter");
  await page.keyboard.press("ArrowRight");
  const afterRight = await page.evaluate(() => document.activeElement.id);
  await page.keyboard.press("End");
  const afterEnd = await page.evaluate(() => document.activeElement.id);
  await page.keyboard.press("Home");
  await page.keyboard.press("Tab");
  const insidePanel = await page.evaluate(() => document.activeElement.closest("[role=tabpanel]")?.id ?? null);
  await page.focus("#sentiment-text");
  await page.$eval("#sentiment-text", (node) => (node.value = "a lovely day"));
  await page.keyboard.down("Control");
  await page.keyboard.press("Enter");
  await page.keyboard.up("Control");
  await page.waitForFunction(
    () => document.querySelectorAll("#panel-sentiment .sentiment-result").length === 1,
    WAIT,
  );
  result.keyboard = { afterRight, afterEnd, insidePanel, ctrlEnter: true };

  // A phone's width: nothing wider than the window on any tab.
  phase = "phone";
  await page.setViewport({ width: 375, height: 740 });
  result.phone = {};
  for (const app of ["sentiment", "stocks", "music", "translation", "captioning"]) {
    await open(app);
    result.phone[app] = await page.evaluate(() => document.documentElement.scrollWidth);
  }

  // No sample file (a checkout before `make stocks`): the stocks tab says so in place.
  phase = "no-samples";
  noSamples = true;
  await page.setViewport({ width: 1000, height: 800 });
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector("body[data-ready]", WAIT);
  await open("stocks");
  result.noSamples = await page.$eval("#panel-stocks", (panel) => ({
    tickers: panel.querySelectorAll("#stocks-ticker option").length,
    note: panel.querySelector(".stocks-no-samples:not([hidden])")?.textContent ?? null,
  }));
  result.noSamples.submitted = await submit("stocks", ".chart");
  phase = "end";
} finally {
  await browser.close();
  writeFileSync(out, JSON.stringify(result, null, 2));
}
