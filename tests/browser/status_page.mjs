// lb-discover's status page in a real browser: Debian's chromium, headless,
// driven by puppeteer-core. Started by tests/integration/test_status_page.py
// with a running fleet; one JSON argument says where everything is:
//   {url, token, lbctl, rundir, ctlDrain, pageDrain, hostile, proxies: [admin
//    ports], screenshot, scale, updateLimit}; or {url, backends, proxies,
//    kubernetes: {replicas, configmap}}; or {url, backends, proxies, lbctl,
//    rundir, routed: {main, services: {NAME: [addresses]}, show, ctlDrain,
//    pageDrain, untouched}} (lb-discover --routes)
// Prints one line per check ("ok ...") and a figure line; exits non-zero
// with the reason on the first failed check.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const cfg = JSON.parse(process.argv[2]);
const scale = cfg.scale || 1;
const WAIT = 20000 * scale;           // content waits: generous for a busy 2-core machine

function ok(what) { console.log("ok " + what); }

function getJSON(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, timeout: 10000 }, (res) => {
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    }).on("error", reject);
  });
}

async function until(what, check, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The state each proxy (its /info) gives `address`.
async function proxyStates(address) {
  const out = [];
  for (const port of cfg.proxies) {
    const info = await getJSON(port, "/info");
    const b = info.backends.find((x) => x.address === address);
    out.push(b ? b.state : "absent");
  }
  return out;
}

const profile = mkdtempSync(join(tmpdir(), "lb-chromium-"));
const browser = await puppeteer.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  timeout: 120000 * scale,
  protocolTimeout: 180000 * scale,
  userDataDir: profile,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--user-data-dir=" + profile],
});
let failed = false;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 760 });
  page.setDefaultTimeout(WAIT);
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push("page error: " + e.message));

  // 1. the page loads and shows the fleet's backends and proxies
  const resp = await page.goto(cfg.url, { waitUntil: "domcontentloaded" });
  if (resp.status() !== 200) throw new Error("GET / answered " + resp.status());
  await page.waitForFunction((n) =>
    document.querySelectorAll("#backends tbody tr").length === n, {}, cfg.backends.length);
  await page.waitForFunction((n) =>
    document.querySelectorAll("#proxies tbody tr").length === n, {}, cfg.proxies.length);
  await page.waitForFunction(() => document.getElementById("feed").textContent === "live");
  const shown = await page.$$eval("#backends tbody tr", (rows) => rows.map((r) => r.dataset.address));
  for (const a of cfg.backends) {
    if (!shown.includes(a)) throw new Error("backend " + a + " not shown: " + shown);
  }
  ok("the page shows " + shown.length + " backends and " + cfg.proxies.length + " proxies, live");
  // rates need two status events
  await page.waitForFunction(() => [...document.querySelectorAll("#backends td.col-req")]
    .some((td) => td.textContent !== ""));
  if (errors.length) throw new Error("console errors on load: " + errors.join(" | "));
  ok("no console error on load");
  if (cfg.kubernetes) {
    // --kubernetes: every replica (its Lease) and the shared state
    await page.waitForFunction((pods) => {
      const rows = [...document.querySelectorAll("#replicas tbody tr")].map((r) => r.textContent);
      return rows.length === pods.length && pods.every((p, i) => rows[i].startsWith(p) &&
        rows[i].includes("live"));
    }, {}, cfg.kubernetes.replicas);
    const shared = await page.$eval("#shared-state", (dl) =>
      [...dl.querySelectorAll("dt")].map((dt) => dt.textContent + "=" + dt.nextSibling.textContent));
    if (!shared.includes("configmap=" + cfg.kubernetes.configmap))
      throw new Error("the shared state shows " + shared.join(", "));
    if (errors.length) throw new Error("console errors: " + errors.join(" | "));
    ok("the replicas " + cfg.kubernetes.replicas.join(", ") + " and the shared state " +
      cfg.kubernetes.configmap + " are shown");
  } else if (cfg.routed) {
    await routed(page, errors);
  } else {
    await writes(page, errors);
  }
} catch (e) {
  failed = true;
  console.log("FAILED: " + (e && e.stack ? e.stack : e));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

// Steps 2-5: drains with lb-ctl and from the page, a refused write, a hostile reason.
async function writes(page, errors) {

  // 2. a drain with lb-ctl shows within updateLimit seconds
  const sel = (a) => `#backends tr[data-address="${a}"]`;
  execFileSync(cfg.lbctl, ["--runtime-dir", cfg.rundir, "drain", cfg.ctlDrain]);
  const t0 = Date.now();
  await page.waitForFunction((s) => document.querySelector(s).dataset.state === "draining",
    { polling: 20 }, sel(cfg.ctlDrain));
  const took = (Date.now() - t0) / 1000;
  console.log(`figure: the page showed lb-ctl's drain ${took.toFixed(3)} s after lb-ctl exited`);
  if (took > cfg.updateLimit) throw new Error(`the drain showed after ${took} s, over ${cfg.updateLimit} s`);
  ok("lb-ctl's drain shown within " + cfg.updateLimit + " s");
  await page.waitForFunction((a) => [...document.querySelectorAll("#changes tbody tr")]
    .some((r) => r.dataset.address === a), {}, cfg.ctlDrain);

  // 3. a drain from the page (token, confirmation) reaches every proxy
  await page.type("#token", cfg.token);
  await page.click(sel(cfg.pageDrain) + " button.act-drain");
  await page.waitForSelector("#confirm[open]");
  const question = await page.$eval("#confirm-text", (p) => p.textContent);
  if (!question.includes(cfg.pageDrain)) throw new Error("the confirmation says " + question);
  await page.click("#confirm-ok");
  await page.waitForFunction(() => document.body.dataset.lastWrite === "200");
  await until("every proxy applies the page's drain", async () =>
    (await proxyStates(cfg.pageDrain)).every((s) => s === "draining"));
  const rc = JSON.parse(execFileSync(cfg.lbctl, ["--runtime-dir", cfg.rundir, "--json", "status"]));
  const row = rc.backends.find((b) => b.address === cfg.pageDrain);
  if (!row || row.state !== "draining") throw new Error("lb-ctl status: " + JSON.stringify(row));
  await page.waitForFunction((a, n) => [...document.querySelectorAll("#changes tbody tr")]
    .some((r) => r.dataset.address === a && r.querySelector(".ack").textContent === n + " of " + n),
    {}, cfg.pageDrain, cfg.proxies.length);
  ok("the page's drain reached every proxy (their /info, lb-ctl status) and the page shows it acknowledged");
  await page.$eval("#token", (i) => { i.value = ""; });
  await page.$eval("#message", (m) => { m.hidden = true; });
  await page.screenshot({ path: cfg.screenshot });
  ok("screenshot " + cfg.screenshot);
  if (errors.length) throw new Error("console errors: " + errors.join(" | "));

  // 4. a write without the token is refused, and changes nothing
  await page.click(sel(cfg.pageDrain) + " button.act-undrain");
  await page.waitForSelector("#confirm[open]");
  await page.click("#confirm-ok");
  await page.waitForFunction(() => document.body.dataset.lastWrite === "401");
  const said = await page.$eval("#message", (m) => m.textContent);
  if (!said.includes("refused (401)")) throw new Error("the page said " + said);
  if (!(await proxyStates(cfg.pageDrain)).every((s) => s === "draining"))
    throw new Error("the refused undrain changed the proxies");
  ok("an undrain without the token is refused (401) and shown: " + said);

  // 5. a hostile reason from the bus is shown as text, never run or parsed
  const nanocat = spawn("nanocat", ["--push", "--connect", `ipc://${cfg.rundir}/reports.sock`,
    "--data", JSON.stringify(cfg.hostileReport), "--interval", "0.2"], { stdio: "ignore" });
  try {
    await page.waitForFunction((a) => [...document.querySelectorAll("#changes tbody tr")]
      .some((r) => r.dataset.address === a), {}, cfg.hostile.address);
  } finally {
    nanocat.kill();
  }
  const cells = await page.$$eval("#changes tbody tr", (rows, a) => rows
    .filter((r) => r.dataset.address === a).map((r) => r.querySelector("td.col-reason").textContent),
  cfg.hostile.address);
  if (!cells.includes(cfg.hostile.reason)) throw new Error("the reason shows as " + JSON.stringify(cells));
  const injected = await page.evaluate(() => ({
    img: document.querySelectorAll("main img, main script, main b").length,
    pwned: document.body.dataset.pwned || null,
  }));
  if (injected.img || injected.pwned) throw new Error("markup from the bus was parsed: " + JSON.stringify(injected));
  ok("a hostile ejection reason is shown as text: " + JSON.stringify(cfg.hostile.reason));

  // 6. the other writes: uneject the hostile backend, weigh another
  await page.type("#token", cfg.token);
  await page.click(`#backends tr[data-address="${cfg.hostile.address}"] button.act-uneject`);
  await page.waitForSelector("#confirm[open]");
  await page.click("#confirm-ok");
  await page.waitForFunction(() => document.body.dataset.lastWrite === "200");
  await page.waitForFunction((a) => document.querySelector(`#backends tr[data-address="${a}"]`)
    .dataset.ejected === "0", {}, cfg.hostile.address);
  ok("uneject from the page ended the ejection");
  await page.$eval("#message", (m) => { m.hidden = true; });
  await page.click(`#backends tr[data-address="${cfg.weigh}"] button.act-weight`);
  await page.waitForSelector("#confirm[open]");
  await page.$eval("#weight-input", (i) => { i.value = ""; });
  await page.type("#weight-input", "7");
  await page.click("#confirm-ok");
  await until("every proxy has the weight", async () => {
    for (const port of cfg.proxies) {
      const b = (await getJSON(port, "/info")).backends.find((x) => x.address === cfg.weigh);
      if (!b || b.weight !== 7) return false;
    }
    return true;
  });
  await page.waitForFunction((a) => document.querySelector(
    `#backends tr[data-address="${a}"] td.col-weight`).textContent === "7", {}, cfg.weigh);
  ok("weight 7 from the page reached every proxy");
  const unexpected = errors.filter((e) => !/status of 401/.test(e));
  if (unexpected.length) throw new Error("console errors: " + unexpected.join(" | "));
  ok("no console error but the refused write's 401");
}

// lb-discover --routes: every Service listed, each one's backends shown by
// its name, a drain with lb-ctl --service shown, a drain from the page on the
// routed Service reaching its proxies (lb-ctl status --service).
async function routed(page, errors) {
  const r = cfg.routed;
  const names = [r.main, ...Object.keys(r.services)];
  await page.waitForFunction((want) => {
    const rows = [...document.querySelectorAll("#services tbody tr")].map((t) => t.dataset.service);
    return rows.length === want.length && want.every((n, i) => rows[i] === n);
  }, {}, names);
  await page.waitForFunction((want) => {
    const text = document.querySelector("#routes tbody").textContent;
    return want.every((n) => text.includes(n));
  }, {}, Object.keys(r.services));
  ok("the Services " + names.join(", ") + " are listed (the main one first), the routes name them");
  const shows = (name, addrs) => page.waitForFunction((n, want) => {
    const got = [...document.querySelectorAll("#backends tbody tr")].map((t) => t.dataset.address);
    return document.body.dataset.service === n && got.length === want.length &&
      want.every((a) => got.includes(a));
  }, {}, name, addrs);
  for (const [name, addrs] of Object.entries(r.services).concat([[r.show, r.services[r.show]]])) {
    await page.click(`#services tr[data-service="${name}"] button.show-service`);
    await shows(name, addrs);
  }
  ok("each routed Service's backends are shown by its name in the list");
  if (errors.length) throw new Error("console errors: " + errors.join(" | "));

  // a drain with lb-ctl --service shows on the page
  const sel = (a) => `#backends tr[data-address="${a}"]`;
  execFileSync(cfg.lbctl, ["--runtime-dir", cfg.rundir, "drain", r.ctlDrain, "--service", r.show]);
  const t0 = Date.now();
  await page.waitForFunction((s) => document.querySelector(s).dataset.state === "draining",
    { polling: 20 }, sel(r.ctlDrain));
  console.log(`figure: the page showed lb-ctl's drain of a routed backend ${((Date.now() - t0) / 1000).toFixed(3)} s after lb-ctl exited`);
  ok("lb-ctl's drain of " + r.ctlDrain + " of " + r.show + " shown");

  // a drain from the page acts on the Service shown and reaches its proxies
  await page.click(sel(r.pageDrain) + " button.act-drain");
  await page.waitForSelector("#confirm[open]");
  const question = await page.$eval("#confirm-text", (p) => p.textContent);
  if (!question.includes(r.pageDrain + " of " + r.show)) throw new Error("the confirmation says " + question);
  await page.click("#confirm-ok");
  await page.waitForFunction(() => document.body.dataset.lastWrite === "200");
  const status = (svc) => JSON.parse(execFileSync(cfg.lbctl,
    ["--runtime-dir", cfg.rundir, "--json", "status", "--service", svc]));
  await until("every proxy of " + r.show + " applies the page's drain", async () => {
    const st = status(r.show);
    const row = st.backends.find((b) => b.address === r.pageDrain);
    return row && row.state === "draining" && st.proxies.length === cfg.proxies.length &&
      st.proxies.every((p) => (p.backends || []).some((b) => b.address === r.pageDrain &&
        b.state === "draining"));
  });
  await page.waitForFunction((a, n) => [...document.querySelectorAll("#changes tbody tr")]
    .some((t) => t.dataset.address === a && t.querySelector(".ack").textContent === n + " of " + n),
  {}, r.pageDrain, cfg.proxies.length);
  const other = status(r.untouched);
  if (!other.backends.every((b) => b.state === "up"))
    throw new Error(r.untouched + " changed: " + JSON.stringify(other.backends));
  ok("the page's drain of " + r.pageDrain + " reached " + r.show + "'s proxies (lb-ctl status --service), " +
    r.untouched + " untouched");
  if (errors.length) throw new Error("console errors: " + errors.join(" | "));
  ok("no console error");
}
