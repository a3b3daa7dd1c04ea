// The dashboard as an operator and a viewer use it, in a real Chromium (scripts/browser-test.sh
// prepares the database, the workers and `ontofleet serve`, and passes them in the environment).
// Each flow asserts what the page shows; screenshots of every page go to ARTIFACTS.
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const { BASE, OPERATOR, VIEWER, GOOD_PROJECT, BAD_PROJECT, PAUSED_RUN, ARTIFACTS, CHROMIUM } = process.env;
mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
let failures = 0;
const step = async (name, fn) => {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
};

async function login(token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => { throw e; });
  await page.goto(`${BASE}/ui`);
  assert.match(page.url(), /\/ui\/login$/, "an anonymous visit goes to the login page");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForURL(`${BASE}/ui`);
  return page;
}

async function axe(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), [], `accessibility of ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

// Waits until the run page, without a reload, shows `status`.
async function liveUntil(page, status, timeout = 60000) {
  const navigations = [];
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  await page.waitForFunction(
    (s) => document.querySelector("[data-field='run.status']")?.textContent === s,
    status,
    { timeout },
  );
  assert.deepEqual(navigations, [], "the page updated itself, without a reload");
}

const operator = await login(OPERATOR);
let dryRun = "";
let badRun = "";

await step("a paused run: resumed, paused again with a reason, resumed, completes", async () => {
  await operator.goto(`${BASE}/ui/runs/${PAUSED_RUN}`);
  const control = () => operator.textContent("[data-field='control']");
  // The form posts and the server redirects to the same page: wait for the new page's text.
  const controlBecomes = (re) => operator.waitForFunction(
    (src) => new RegExp(src).test(document.querySelector("[data-field='control']")?.textContent ?? ""),
    re.source,
    { timeout: 15000 },
  );
  assert.match(await control(), /^paused by .*: paused before the browser test$/);
  assert.equal(await operator.textContent("[data-field='run.status']"), "paused");
  await shot(operator, "run-paused");
  await axe(operator, "paused run page");
  await operator.click("text=Resume the run");
  await controlBecomes(/^limited: 1 started\/s$/);
  await operator.fill("#pause-reason", "paused from the dashboard");
  await operator.click("text=Pause the run");
  await controlBecomes(/^paused by t-operator \(api\): paused from the dashboard$/);
  assert.equal(await operator.textContent("[data-field='run.status']"), "paused");
  await operator.click("text=Resume the run");
  await controlBecomes(/^limited: 1 started\/s$/);
  // Every project, the one that fails as `data` included.
  await liveUntil(operator, "completed_with_errors");
});

await step("a dry run started from the overview progresses to completed without a reload", async () => {
  await operator.goto(`${BASE}/ui`);
  await shot(operator, "overview");
  await axe(operator, "overview");
  await operator.check("input[name=scope][value=project]");
  await operator.fill("#project", GOOD_PROJECT);
  await operator.check("input[name=dry_run]");
  await operator.check("input[name=resync]");
  await operator.click("form[action='/ui/runs'] button[type=submit]");
  await operator.waitForURL(/\/ui\/runs\/[0-9a-f-]{36}$/);
  dryRun = operator.url().split("/").pop();
  await liveUntil(operator, "completed");
  assert.equal(await operator.textContent("[data-field='run.items.succeeded']"), "1");
  await shot(operator, "run-dry");
  await axe(operator, "run page");
});

await step("a run with data failures: failures page, retry by category with preview, the run reopens and completes", async () => {
  await operator.goto(`${BASE}/ui`);
  await operator.check("input[name=scope][value=project]");
  await operator.fill("#project", BAD_PROJECT);
  await operator.uncheck("input[name=dry_run]");
  await operator.check("input[name=resync]");
  await operator.click("form[action='/ui/runs'] button[type=submit]");
  await operator.waitForURL(/\/ui\/runs\/[0-9a-f-]{36}$/);
  badRun = operator.url().split("/").pop();
  await liveUntil(operator, "completed_with_errors");
  assert.equal(await operator.textContent("[data-field='run.items.failed']"), "1");
  await shot(operator, "run-failed");
  await operator.click("text=Failures by category and message");
  await operator.waitForURL(`${BASE}/ui/runs/${badRun}/failures`);
  const categories = await operator.locator("tbody tr td:first-child").allTextContents();
  assert.deepEqual(categories, ["data"], "one group, of category data");
  await shot(operator, "failures");
  await axe(operator, "failures page");
  await operator.click("text=Retry data failures…");
  await operator.waitForURL(/retry\?category=data$/);
  assert.match(await operator.textContent("#retry-count"), /^1 job\(s\) will be put back to work/);
  await shot(operator, "retry-preview");
  await axe(operator, "retry preview");
  await operator.click("#confirm-retry");
  await operator.waitForURL(`${BASE}/ui/runs/${badRun}`);
  await liveUntil(operator, "completed");
  assert.equal(await operator.textContent("[data-field='run.items.failed']"), "0");
  assert.equal(await operator.textContent("[data-field='run.items.succeeded']"), "1");
  await shot(operator, "run-retried");
});

await step("the audit page shows who did it", async () => {
  await operator.goto(`${BASE}/ui/audit`);
  const text = await operator.textContent("main");
  assert.match(text, /t-operator\s*operator\s*jobs\.retry/);
  assert.match(text, /t-operator\s*operator\s*run\.start/);
  await shot(operator, "audit");
  await axe(operator, "audit page");
  for (const path of ["/ui/runs", "/ui/users"]) {
    await operator.goto(`${BASE}${path}`);
    await axe(operator, path);
    await shot(operator, path.replaceAll("/", "_").slice(1));
  }
});

await step("README screenshots of a real run (viewport only, small)", async () => {
  await operator.setViewportSize({ width: 1100, height: 760 });
  await operator.goto(`${BASE}/ui`);
  await operator.screenshot({ path: `${ARTIFACTS}/readme-overview.png` });
  await operator.goto(`${BASE}/ui/runs/${badRun}`);
  await operator.screenshot({ path: `${ARTIFACTS}/readme-run.png` });
  await operator.setViewportSize({ width: 1280, height: 900 });
});

await step("a viewer sees no mutation control and gets 403 when posting anyway", async () => {
  const viewer = await login(VIEWER);
  assert.equal(await viewer.locator("form[action='/ui/runs']").count(), 0, "no start form");
  await viewer.goto(`${BASE}/ui/runs/${badRun}`);
  assert.equal(await viewer.locator("main form").count(), 0, "no action form on the run page");
  assert.equal(await viewer.locator("a[href*='/retry']").count(), 0, "no retry link");
  await viewer.goto(`${BASE}/ui/users`);
  assert.equal(await viewer.locator("form[action='/ui/users/refresh']").count(), 0);
  const emails = await viewer.locator("tbody tr td:nth-child(2)").allTextContents();
  assert.ok(emails.length > 0 && emails.every((e) => e.includes("***@")), `masked: ${emails}`);
  await shot(viewer, "users-viewer");
  const statuses = await viewer.evaluate(async ([run, dry]) => {
    const post = (url, body) => fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    }).then((r) => r.status);
    return [
      await post(`/ui/runs/${run}/cancel`, ""),
      await post("/ui/runs", "scope=all&dry_run=true"),
      await post(`/ui/runs/${run}/retry`, "category=data&selection_token=x"),
      await post("/ui/users/refresh", ""),
      await post("/ui/lock/release", "confirm=release"),
      await post(`/ui/runs/${dry}/validate`, ""),
    ];
  }, [badRun, dryRun]);
  assert.deepEqual(statuses, [403, 403, 403, 403, 403, 403]);
  const page = await viewer.goto(`${BASE}/ui/lock/release`);
  assert.equal(page.status(), 403);
});

await step("pages carry a strict CSP and no inline script", async () => {
  const response = await operator.goto(`${BASE}/ui`);
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  const inline = await operator.locator("script:not([src])").count();
  assert.equal(inline, 0);
});

await browser.close();
if (failures > 0) {
  console.log(`${failures} flow(s) failed`);
  process.exit(1);
}
console.log("all dashboard flows passed");
