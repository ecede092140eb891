// Stocks: the last `window` days of a sample ticker or of the user's CSV in; the
// history and the forecast's median with its interval band, drawn as a chart.
import { dimension, predict } from "./api.js";
import { busy, dropZone, el, showError, svg } from "./ui.js";

const COLUMNS = ["date", "open", "high", "low", "close", "volume"];

/** Rows of a prices CSV: `{ticker: [{date, open, ..., adj_close?}]}`, oldest first. */
export function parseCsv(text, fallbackTicker) {
  const lines = text.split(/\r?\n/).filter((line) => line.trim());
  if (lines.length < 2) throw new Error("the CSV has no rows");
  const header = lines[0].split(",").map((name) => name.trim().replace(/^"|"$/g, "").toLowerCase());
  const missing = COLUMNS.filter((name) => !header.includes(name));
  if (missing.length)
    throw new Error(
      `the CSV lacks ${missing.join(", ")}: its columns must be Date,Open,High,Low,Close,Volume[,Adj Close][,Ticker]`,
    );
  const at = (name) => header.indexOf(name);
  const tickers = {};
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(",").map((cell) => cell.trim().replace(/^"|"$/g, ""));
    const row = { date: cells[at("date")] };
    for (const name of COLUMNS.slice(1)) {
      row[name] = Number(cells[at(name)]);
      if (!Number.isFinite(row[name]))
        throw new Error(`line ${i + 2}: ${name} is not a number (${cells[at(name)]})`);
    }
    if (at("adj close") >= 0) row.adj_close = Number(cells[at("adj close")]);
    const ticker = at("ticker") >= 0 ? cells[at("ticker")] : fallbackTicker;
    (tickers[ticker] ||= []).push(row);
  });
  return tickers;
}

export async function setup(panel, signatures) {
  const form = panel.querySelector("form");
  const select = panel.querySelector("#stocks-ticker");
  const output = panel.querySelector("#stocks-output");
  const window_ = dimension(signatures, "serving_default", "inputs", "ohlcv", 1);
  panel.querySelector(".stocks-window").textContent = String(window_);
  let tickers = {};
  // Said in place of the sample tickers while there are none.
  const none = el(
    "p",
    { class: "hint stocks-no-samples", hidden: true },
    "No sample tickers yet: they appear after ",
    el("code", { text: "make stocks" }),
    " (it writes samples/stocks.csv). Meanwhile, drop a CSV of your own below.",
  );
  select.closest(".row").after(none);

  function offer(parsed, source) {
    tickers = parsed;
    none.hidden = Object.keys(parsed).length > 0;
    select.replaceChildren(
      ...Object.keys(parsed).map((name) =>
        el("option", { value: name, text: `${name} (${source}, ${parsed[name].length} days)` }),
      ),
    );
  }
  // The sample file is git-ignored: `make stocks` writes it; a 404 until then.
  const sample = await fetch("samples/stocks.csv").catch(() => null);
  offer(sample?.ok ? parseCsv(await sample.text(), "sample") : {}, "sample");
  dropZone(panel.querySelector(".drop"), panel.querySelector("#stocks-file"), async (file) => {
    try {
      offer(parseCsv(await file.text(), file.name.replace(/\.[^.]*$/, "")), file.name);
      form.requestSubmit();
    } catch (problem) {
      showError(panel, problem);
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = select.value;
    busy(panel, "Forecasting…", async () => {
      const rows = tickers[name];
      if (!rows) throw new Error("No ticker to forecast: drop a CSV of prices first.");
      if (rows.length < window_)
        throw new Error(`${name} has ${rows.length} days; the model reads ${window_}`);
      const last = rows.slice(-window_);
      const adjusted = "adjusted" in signatures && last.every((row) => Number.isFinite(row.adj_close));
      const ohlcv = (row) => [row.open, row.high, row.low, row.close, row.volume];
      // Rows with an adjusted close go to `adjusted` (it removes splits inside the
      // window); a named ticker to `by_ticker` (its own interval calibration).
      let body;
      if (adjusted) {
        body = {
          signature_name: "adjusted",
          instances: [last.map((row) => [...ohlcv(row), row.adj_close])],
        };
      } else if ("by_ticker" in signatures) {
        body = { signature_name: "by_ticker", instances: [{ ohlcv: last.map(ohlcv), ticker: name }] };
      } else {
        body = { instances: [last.map(ohlcv)] };
      }
      const [forecast] = (await predict("stocks", body)).predictions;
      output.replaceChildren(
        chart(name, rows.slice(-Math.max(window_, 90)), forecast),
        table(forecast),
        el("p", {
          class: "hint",
          text: `Signature ${body.signature_name || "serving_default"}; prices in the units of the last day's close.`,
        }),
      );
    });
  });
}

function chart(name, history, forecast) {
  const width = 720;
  const height = 300;
  const pad = { left: 56, right: 12, top: 16, bottom: 28 };
  const closes = history.map((row) => row.close);
  // The forecast is in the last row's units; the history as quoted (the same on that day).
  const horizon = forecast.median.length;
  const all = [...closes, ...forecast.lower, ...forecast.upper];
  const low = Math.min(...all);
  const high = Math.max(...all);
  const n = closes.length + horizon;
  const x = (i) => pad.left + (i / (n - 1)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - low) / (high - low || 1)) * (height - pad.top - pad.bottom);
  const points = (values, offset) => values.map((v, i) => `${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`);
  const origin = closes.length - 1;
  const last = closes[origin];
  const median = [last, ...forecast.median];
  const upper = [last, ...forecast.upper];
  const lower = [last, ...forecast.lower];
  const level = Math.round(100 * (forecast.level ?? 0.8));
  const ticks = [low, (low + high) / 2, high];
  return el(
    "figure",
    { class: "chart" },
    svg(
      "svg",
      {
        viewBox: `0 0 ${width} ${height}`,
        role: "img",
        "aria-label": `${name}: ${closes.length} days of closing prices and a ${horizon}-day forecast`,
      },
      ...ticks.map((v) =>
        svg("g", { class: "tick" },
          svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
          svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(2)),
        ),
      ),
      svg("polygon", {
        class: "band",
        "data-series": "interval",
        points: [...points(upper, origin), ...points(lower, origin).reverse()].join(" "),
      }),
      svg("polyline", { class: "history", "data-series": "history", points: points(closes, 0).join(" ") }),
      svg("polyline", { class: "median", "data-series": "median", points: points(median, origin).join(" ") }),
      svg("text", { x: pad.left, y: height - 8 }, history[0].date),
      svg("text", { x: width - pad.right, y: height - 8, "text-anchor": "end" }, history[origin].date),
      svg("text", { x: width - pad.right, y: 12, "text-anchor": "end" }, `forecast: ${horizon} days after ${history[origin].date}`),
    ),
    el(
      "figcaption",
      {},
      el("span", { class: "key history" }, "history (close)"),
      el("span", { class: "key median" }, "forecast median"),
      el("span", { class: "key band" }, `${level} % interval`),
    ),
  );
}

function table(forecast) {
  const body = el("tbody");
  forecast.median.forEach((median, i) => {
    body.append(
      el("tr", {},
        el("th", { scope: "row", text: `+${i + 1}` }),
        el("td", { text: median.toFixed(2) }),
        el("td", { text: `${forecast.lower[i].toFixed(2)} – ${forecast.upper[i].toFixed(2)}` }),
      ),
    );
  });
  return el(
    "div",
    { class: "scroll" },
    el("table", { class: "numbers" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: "day" }),
        el("th", { scope: "col", text: "median" }),
        el("th", { scope: "col", text: "interval" }),
      )),
      body,
    ),
  );
}
