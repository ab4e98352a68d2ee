// The built-in dashboard in a real browser (the system Chromium, driven by
// playwright-core) against a real logger: the release binary with the
// standard system and sensehat plugins (the Sense HAT simulated on its I2C
// bus, so its readings are constant and can be compared exactly).
//
// Run: scripts/test-browser (builds nothing itself: needs target/release/datalogger
// and plugins/dist/*.wasm). SCREENSHOTS=DIR keeps the screenshots there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const binary = process.env.DATALOGGER_BIN || path.join(root, "target/release/datalogger");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const TOKEN = "browser-test-token";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "dl-browser-"));
const shots = process.env.SCREENSHOTS || path.join(work, "screenshots");
fs.mkdirSync(shots, { recursive: true });

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(path.join(work, "plugins"));
for (const p of ["system", "sensehat"]) {
  fs.copyFileSync(path.join(root, "plugins/dist", `${p}.wasm`), path.join(work, "plugins", `${p}.wasm`));
}
fs.writeFileSync(
  path.join(work, "config.json"),
  JSON.stringify({
    log_level: "warn",
    plugins_dir: path.join(work, "plugins"),
    // Shared with the other tests' runs: compiled plugins are reused.
    cache_dir: path.join(root, "target/browser-test-cache"),
    api: { listen: `127.0.0.1:${port}`, token: { env: "DL_BROWSER_TOKEN" } },
    store: { path: path.join(work, "store.db") },
    plugins: {
      system: { files: ["/proc/loadavg", "/sys/devices/system/cpu/online"] },
      sensehat: { i2c: [{ bus: 1, addresses: ["0x5c", "0x5f"] }] },
    },
    i2c: {
      buses: [{
        bus: 1,
        simulated: [
          { chip: "hts221", address: "0x5f", temperature_c: 21.5, humidity_rh: 40.0 },
          { chip: "lps25h", address: "0x5c", pressure_hpa: 1013.25, temperature_c: 21.0 },
        ],
      }],
    },
    items: [
      { name: "load1", key: "system.loadavg1", interval: 1 },
      { name: "humidity", key: "sensehat.humidity", interval: 1 },
      { name: "temperature", key: "sensehat.temperature", interval: 2 },
      { name: "environment", key: "sensehat.environment", interval: 2 },
    ],
  }),
);

let logger = null;
function startLogger() {
  logger = spawn(binary, ["run", "--config", path.join(work, "config.json")], {
    env: { ...process.env, DL_BROWSER_TOKEN: TOKEN },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

async function stopLogger() {
  const exited = new Promise((resolve) => logger.once("exit", resolve));
  logger.kill("SIGTERM");
  await exited;
}

async function api(method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function until(what, check, ms = 60000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

test("the dashboard shows, charts and manages items through the API", async (t) => {
  startLogger();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  t.after(async () => {
    await browser.close();
    if (logger && logger.exitCode === null) await stopLogger();
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  });
  // Every item has a sample, so the page has values to show.
  await until("samples of every item", async () => {
    const { json } = await api("GET", "/items/");
    return json.every((i) => i.last_value !== null) && json;
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  await t.test("the page asks for the token once, then lists every item with its value", async () => {
    await page.goto(base + "/");
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.fill("#token-form input[name=token]", TOKEN);
    await page.click("#token-form button[type=submit]");
    const { json: items } = await api("GET", "/items/");
    for (const item of items) {
      await page.locator(`#items tr[data-item="${item.name}"]`).waitFor();
    }
    // The simulated Sense HAT reads constant values: the page shows exactly the API's.
    const humidity = items.find((i) => i.name === "humidity");
    await until("humidity's value on the page", async () =>
      (await page.textContent('#items tr[data-item="humidity"] .latest')).trim() === `${humidity.last_value} %RH`);
    const plugins = await page.locator("#plugins tbody tr").count();
    assert.equal(plugins, 2, "both plugins listed");
    assert.match(await page.textContent("#health"), /^ok · up .* 4 items \(0 failing\) · 2 plugins/);
    await page.screenshot({ path: path.join(shots, "overview.png"), fullPage: true });
    // Reloading in the same session asks no more.
    await page.reload();
    await page.locator('#items tr[data-item="load1"]').waitFor();
    assert.equal(await page.locator("#token-dialog").isVisible(), false);
  });

  await t.test("a chart draws the points the series API holds for the range", async () => {
    await page.click('#items tr[data-item="humidity"] button.chart');
    await until("points drawn", async () => Number(await page.getAttribute("#chart", "data-points")) >= 3);
    const drawn = await page.evaluate(() => state.plot.data[1].filter((v) => v !== null).length);
    const now = Date.now();
    const { json } = await api("GET", `/series/data?item=humidity&field=humidity&from=${now - 3600e3}&to=${now}&points=500`);
    const held = json.series[0].values.filter((v) => v[1] !== null).length;
    // The API may have gained a sample since the page asked.
    assert.ok(Math.abs(held - drawn) <= 2, `page drew ${drawn} points, the API holds ${held}`);
    assert.ok(json.series[0].values.every((v) => v[1] === 40), "the simulated humidity is 40 %RH");
    const canvas = await page.locator("#chart canvas").boundingBox();
    assert.ok(canvas.width > 200 && canvas.height > 100, "a canvas was drawn");
    // An item of another unit replaces the chart; one of the same unit is overlaid.
    await page.click('#items tr[data-item="temperature"] button.chart');
    await until("temperature alone", async () => (await page.textContent("#chart-title")) === "temperature (°C)");
    await page.click('#items tr[data-item="environment"] button.chart');
    await until("two lines", async () => (await page.evaluate(() => state.plot.series.length)) === 3);
    assert.equal(await page.textContent("#chart-title"), "temperature, environment (°C)");
    await page.selectOption("#range", "15m");
    await until("redrawn for 15 min", async () =>
      page.evaluate(() => state.plot.scales.x.max - state.plot.scales.x.min < 16 * 60));
    await page.screenshot({ path: path.join(shots, "chart.png"), fullPage: true });
  });

  await t.test("a bad item's error is shown next to its field; a good one is added", async () => {
    await page.click("#add-item");
    await page.fill("#item-form input[name=name]", "load5");
    await page.selectOption("#item-form select[name=key]", "system.loadavg5");
    await page.fill("#item-form input[name=interval]", "0");
    await page.click("#item-save");
    const error = page.locator('#item-form small.error[data-for="interval"]');
    await until("the interval error", async () => /interval/.test(await error.textContent()));
    assert.equal((await api("GET", "/items/load5")).status, 404, "nothing was created");
    await page.screenshot({ path: path.join(shots, "item-form.png") });
    // A name that is taken: the error goes next to the name.
    await page.fill("#item-form input[name=interval]", "5");
    await page.fill("#item-form input[name=name]", "load1");
    await page.click("#item-save");
    await until("the name error", async () =>
      /already exists/.test(await page.textContent('#item-form small.error[data-for="name"]')));
    await page.fill("#item-form input[name=name]", "load5");
    await page.click("#item-save");
    await page.locator('#items tr[data-item="load5"]').waitFor();
    const { status, json } = await api("GET", "/items/load5");
    assert.equal(status, 200);
    assert.deepEqual([json.key, json.interval, json.enabled], ["system.loadavg5", 5, true]);
  });

  await t.test("an item is edited, disabled and deleted", async () => {
    await page.click('#items tr[data-item="load5"] button.edit');
    assert.equal(await page.inputValue("#item-form input[name=interval]"), "5");
    await page.fill("#item-form input[name=interval]", "7");
    await page.click("#item-save");
    await until("interval 7", async () => (await api("GET", "/items/load5")).json.interval === 7);
    await page.click('#items tr[data-item="load5"] button.toggle');
    await until("disabled", async () => (await api("GET", "/items/load5")).json.enabled === false);
    await page.locator('#items tr[data-item="load5"]', { hasText: "(disabled)" }).waitFor();
    page.once("dialog", (d) => d.accept());
    await page.click('#items tr[data-item="load5"] button.delete');
    await page.locator('#items tr[data-item="load5"]').waitFor({ state: "detached" });
    assert.equal((await api("GET", "/items/load5")).status, 404);
  });

  await t.test("the page says when the logger is gone and recovers when it is back", async () => {
    await stopLogger();
    await page.locator("#banner").waitFor({ state: "visible" });
    startLogger();
    await page.locator("#banner").waitFor({ state: "hidden", timeout: 60000 });
    await until("polls counted again", async () =>
      /^\d+ \/ 0 \/ \d+$/.test((await page.textContent('#items tr[data-item="load1"] td:nth-child(5)')).trim()));
  });

  await t.test("the assets are compressed and revalidated by ETag", async () => {
    let total = 0;
    for (const p of ["/", "/ui/app.js", "/ui/app.css", "/ui/uPlot.iife.min.js", "/ui/uPlot.min.css"]) {
      const r = await fetch(base + p, { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get("content-encoding"), "gzip", p);
      const etag = r.headers.get("etag");
      // fetch decodes the body; the compressed size is what crossed the wire.
      const raw = await new Promise((resolve) => {
        const req = net.connect(port, "127.0.0.1", () =>
          req.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n`));
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks)));
      });
      total += raw.length - raw.indexOf("\r\n\r\n") - 4;
      const again = await fetch(base + p, { headers: { "If-None-Match": etag } });
      assert.equal(again.status, 304, p);
    }
    console.log(`page weight, gzipped: ${total} bytes`);
    assert.ok(total > 10000, "the page and uPlot were served");
    assert.deepEqual(errors, [], "no script errors on the page");
  });
});
