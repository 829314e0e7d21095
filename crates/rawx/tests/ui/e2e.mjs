// The web UI in real headless Chromium (Debian's, driven by playwright-core), against a real
// `rawx serve` started by crates/rawx/tests/ui.rs, which passes:
//   RAWX_UI_NODE_MODULES  where playwright-core is (scripts/setup-ui-test.sh)
//   BASE                  http://127.0.0.1:PORT
//   ADMIN_PW, USER, USER_PW  the superuser's password; a user with no rights
//   PROJECT_DIR           a manual project directory (with hello.yml and long.yml)
//   BIG_JOB               a finished job with 100,000 events
//   ARTIFACTS             where screenshots and figures go
// Prints `FIGURES {json}` last. Any failed step throws: the exit code says it all.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const require = createRequire(`${process.env.RAWX_UI_NODE_MODULES}/`);
const { chromium } = require('playwright-core');
const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const BASE = env('BASE');
const ART = env('ARTIFACTS');
mkdirSync(ART, { recursive: true });
const figures = {};
const T = 45000; // generous: a loaded CI machine runs debug builds
const step = (s) => console.log(`--- ${s}`);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
async function newPage(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function login(page, user, pw) {
  await page.goto(`${BASE}/`);
  await page.fill('#username', user);
  await page.fill('#password', pw);
  await page.click('button[type=submit]');
  await page.locator('#current-user').waitFor();
}

/** Picks an option by its text once the related list has loaded into the select. */
async function choose(page, sel, label) {
  await page.locator(`${sel} option`, { hasText: label }).first().waitFor({ state: 'attached' });
  await page.selectOption(sel, { label });
}

async function save(page, urlPattern) {
  await page.click('button[type=submit]:has-text("Save")');
  await page.waitForURL(urlPattern);
  return Number(page.url().match(/\/(\d+)$/)[1]);
}

try {
  // ---- first load: bytes over the wire and time to the dashboard's first paint (cold cache)
  step('first load of the dashboard');
  const page = await newPage();
  let bytes = 0;
  const pending = [];
  const count = (r) => pending.push(r.sizes().then((s) => (bytes += s.responseBodySize + s.responseHeadersSize)).catch(() => {}));
  page.on('requestfinished', count);
  await login(page, 'admin', env('ADMIN_PW'));
  await page.locator('.tile .n').first().waitFor();
  await page.locator('.chart svg').waitFor();
  await Promise.all(pending);
  page.off('requestfinished', count);
  figures.first_load_bytes = bytes;
  assert.ok(bytes < 300 * 1024, `first load is ${bytes} bytes`);
  assert.equal(await page.locator('#current-user').textContent(), 'admin (admin)');
  await page.screenshot({ path: `${ART}/dashboard.png`, fullPage: true });
  {
    // A new tab with the session but a cold cache: when does the dashboard paint?
    const cold = await newPage({ storageState: await page.context().storageState() });
    const t0 = Date.now();
    await cold.goto(`${BASE}/dashboard`);
    await cold.locator('.tile .n').first().waitFor();
    figures.dashboard_ready_ms = Date.now() - t0;
    figures.dashboard_first_paint_ms = await cold.evaluate(() => {
      const p = performance.getEntriesByName('first-contentful-paint')[0];
      return p ? Math.round(p.startTime) : null;
    });
    await cold.context().close();
  }

  // ---- create an organization, an inventory with a host, a project and a template
  step('field error on a bad form');
  await page.click('nav.side a:has-text("Organizations")');
  await page.click('a.button:has-text("Add")');
  await page.waitForURL(/\/organizations\/add$/);
  await page.locator('#f-name').waitFor();
  await page.click('button[type=submit]:has-text("Save")');
  const nameErr = page.locator('.field:has(#f-name) .field-error');
  await nameErr.waitFor();
  assert.match(await nameErr.textContent(), /required/i);
  assert.equal(await page.getAttribute('#f-name', 'aria-invalid'), 'true');

  step('organization');
  await page.fill('#f-name', 'UI Org');
  const org = await save(page, /\/organizations\/\d+$/);
  await page.locator('h1', { hasText: 'UI Org' }).waitFor();

  // The user without rights becomes a member of it (what an admin does in AWX's access tab).
  const alice = await page.evaluate(async (name) => {
    const r = await fetch(`/api/v2/users/?username=${name}`).then((x) => x.json());
    return r.results[0].id;
  }, env('USER'));
  const added = await page.evaluate(async ([o, u]) => {
    const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
    const r = await fetch(`/api/v2/organizations/${o}/users/`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf }, body: JSON.stringify({ id: u }),
    });
    return r.status;
  }, [org, alice]);
  assert.equal(added, 204);

  step('inventory and host');
  await page.goto(`${BASE}/inventories/add`);
  await page.fill('#f-name', 'UI Inventory');
  await choose(page, '#f-organization', 'UI Org');
  const inv = await save(page, /\/inventories\/\d+$/);
  await page.click(`a.button[href="/hosts/add?inventory=${inv}"]`);
  await page.fill('#f-name', 'localhost');
  await page.locator('#f-inventory option:checked', { hasText: 'UI Inventory' }).waitFor({ state: 'attached' });
  await page.fill('#f-variables', '{"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}');
  await save(page, /\/hosts\/\d+$/);

  step('project');
  await page.goto(`${BASE}/projects/add`);
  await page.fill('#f-name', 'UI Project');
  await choose(page, '#f-organization', 'UI Org');
  await page.selectOption('#f-scm_type', { label: 'Manual' });
  await page.fill('#f-local_path', env('PROJECT_DIR'));
  await save(page, /\/projects\/\d+$/);

  step('template, with the API\'s error beside the playbook field');
  await page.goto(`${BASE}/templates/add`);
  await page.fill('#f-name', 'UI Template');
  await choose(page, '#f-inventory', 'UI Inventory');
  await choose(page, '#f-project', 'UI Project');
  // The project's playbooks, as the API lists them (`/projects/N/playbooks/`).
  await page.locator('#f-playbook option[value="long.yml"]').waitFor({ state: 'attached' });
  await page.click('button[type=submit]:has-text("Save")');
  const pbErr = page.locator('.field:has(#f-playbook) .field-error');
  await pbErr.waitFor();
  assert.match(await pbErr.textContent(), /required/i);
  await page.screenshot({ path: `${ART}/template-form.png`, fullPage: true });
  await page.selectOption('#f-playbook', 'hello.yml');
  const jt = await save(page, /\/templates\/\d+$/);

  step('a schedule of the template, with its next run');
  await page.click(`a.button[href="/schedules/add?unified_job_template=${jt}"]`);
  await page.locator('#f-rrule').waitFor();
  await page.fill('#f-name', 'UI Nightly');
  await page.locator('#f-unified_job_template option:checked', { hasText: 'UI Template' }).waitFor({ state: 'attached' });
  await page.fill('#f-rrule', 'DTSTART:20300101T020000Z RRULE:FREQ=DAILY;INTERVAL=1');
  await save(page, /\/schedules\/\d+$/);
  await page.locator('dd', { hasText: '2030-01-01' }).first().waitFor();
  await page.goto(`${BASE}/templates/${jt}`);

  // ---- launch and watch the output arrive live, to the final status
  step('launch; output arrives while running');
  await page.click('a.button:has-text("Launch")');
  await page.waitForURL(/\/launch$/);
  await page.click('button[type=submit]:has-text("Launch")');
  await page.waitForURL(/\/jobs\/\d+$/);
  const job = Number(page.url().match(/(\d+)$/)[1]);
  // The playbook pauses mid-way: lines are on screen while the job still runs.
  await page.locator('.page-head .status[data-status="running"]').waitFor({ timeout: 90000 });
  await page.locator('.output .ev', { hasText: 'first half' }).first().waitFor({ timeout: 60000 });
  assert.equal(await page.locator('.page-head .status').getAttribute('data-status'), 'running', 'output shown before the end');
  await page.screenshot({ path: `${ART}/job-running.png` });
  await page.locator('.page-head .status[data-status="successful"]').waitFor({ timeout: 120000 });
  // Follow mode kept the end in view: the recap is on screen without scrolling.
  await page.locator('.output .ev', { hasText: 'PLAY RECAP' }).waitFor();
  // One host, its worst outcome "changed" (the command task), as AWX's recap counts it.
  await page.locator('.counts [data-count="changed"]', { hasText: '1' }).waitFor();
  const dl = await page.getAttribute('a:has-text("Download")', 'href');
  assert.equal(dl, `/api/v2/jobs/${job}/stdout/?format=txt_download`);
  const stdout = await page.evaluate((u) => fetch(u).then((r) => r.text()), dl);
  assert.match(stdout, /second half/);

  step('plays and tasks: jump to one');
  await page.click('button:has-text("Plays and tasks")');
  await page.click('.outline button:has-text("TASK pause")');
  await page.locator('.output .ev', { hasText: 'TASK [pause]' }).waitFor();
  assert.equal(await page.locator('.output-panel button:has-text("Follow")').getAttribute('aria-pressed'), 'false');

  step('event detail');
  await page.locator('.output .ev', { hasText: 'first half' }).first().click();
  await page.locator('dialog .json').waitFor();
  await page.click('dialog button[aria-label="Close"]');

  step('relaunch');
  await page.click('button:has-text("Relaunch")');
  await page.waitForURL((u) => /\/jobs\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${job}`));
  await page.locator('.page-head .status[data-status="successful"]').waitFor({ timeout: 120000 });

  // ---- cancel a long job
  step('cancel a long job');
  await page.goto(`${BASE}/templates/${jt}/edit`);
  await page.locator('#f-playbook').waitFor();
  await page.fill('#f-name', 'UI Long');
  await page.locator('#f-playbook option[value="long.yml"]').waitFor({ state: 'attached' });
  await page.selectOption('#f-playbook', 'long.yml');
  await save(page, /\/templates\/\d+$/);
  await page.goto(`${BASE}/templates/${jt}/launch`);
  await page.click('button[type=submit]:has-text("Launch")');
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.locator('.page-head .status[data-status="running"]').waitFor({ timeout: 90000 });
  await page.locator('.output .ev', { hasText: 'TASK [sleep]' }).waitFor({ timeout: 60000 });
  const longJob = Number(page.url().match(/(\d+)$/)[1]);

  step("AWX's delete rule: an inventory a running job uses is refused, saying which job");
  const other = await page.context().newPage();
  other.on('dialog', (d) => d.accept());
  await other.goto(`${BASE}/inventories`);
  await other.click('button[aria-label="Delete UI Inventory"]');
  const conflict = other.locator('.alert.error');
  await conflict.waitFor();
  assert.match(await conflict.textContent(), new RegExp(`being used by running jobs.*job ${longJob}`));
  await other.locator('td a', { hasText: 'UI Inventory' }).waitFor();
  await other.close();

  await page.click('.page-head button:has-text("Cancel")');
  await page.locator('.page-head .status[data-status="canceled"]').waitFor({ timeout: 60000 });

  // ---- an ad hoc command from the inventory, its output live on its own page
  step('ad hoc command');
  await page.goto(`${BASE}/inventories/${inv}`);
  await page.click('a.button:has-text("Run command")');
  await page.locator('#f-module_args').waitFor();
  await page.selectOption('#f-module_name', 'command');
  await page.fill('#f-module_args', 'echo adhoc-from-the-ui');
  await page.click('button[type=submit]:has-text("Run")');
  await page.waitForURL(/\/ad_hoc_commands\/\d+$/);
  await page.locator('.page-head .status[data-status="successful"]').waitFor({ timeout: 120000 });
  await page.locator('.output .ev', { hasText: 'adhoc-from-the-ui' }).first().waitFor();

  // ---- a credential: its secret is written, never shown again
  step('credential secrets are write-only');
  await page.goto(`${BASE}/credentials/add`);
  await page.fill('#f-name', 'UI Machine');
  await choose(page, '#f-credential_type', 'Machine');
  await page.locator('#f-inputs-password').waitFor();
  await page.fill('#f-inputs-username', 'deploy');
  await page.fill('#f-inputs-password', 'not-to-be-seen');
  const cred = await save(page, /\/credentials\/\d+$/);
  await page.locator('dd', { hasText: '$encrypted$' }).waitFor();
  assert.equal(await page.locator('text=not-to-be-seen').count(), 0);
  await page.goto(`${BASE}/credentials/${cred}/edit`);
  await page.locator('#f-inputs-password').waitFor();
  assert.equal(await page.inputValue('#f-inputs-password'), '', 'the secret is not sent back to the form');
  assert.equal(await page.inputValue('#f-inputs-username'), 'deploy');

  // ---- dashboard after jobs: recent jobs and the chart count them
  step('dashboard lists the jobs');
  // The API first (every job above ended in the page already, but a loaded machine may still
  // be closing the last one), then the page must show what the API says.
  const graph = () => page.evaluate(() => fetch('/api/v2/dashboard/graphs/jobs/').then((r) => r.json()));
  const sum = (g, k) => g.jobs[k].reduce((n, p) => n + p[1], 0);
  let g;
  for (const until = Date.now() + 60000; Date.now() < until; await page.waitForTimeout(500)) {
    g = await graph();
    // The bulk job, the template's job, its relaunch and the ad hoc command succeeded; the
    // long one was canceled.
    if (sum(g, 'successful') >= 4 && sum(g, 'canceled') >= 1) break;
  }
  assert.equal(sum(g, 'successful'), 4, JSON.stringify(g));
  assert.equal(sum(g, 'canceled'), 1);
  await page.click('nav.side a:has-text("Dashboard")');
  await page.locator('.dash table a', { hasText: 'UI Long' }).first().waitFor();
  await page.locator('.legend', { hasText: 'Successful 4' }).waitFor();
  await page.locator('.legend', { hasText: 'Canceled 1' }).waitFor();

  // ---- a job of 100,000 events: paints at once, scrolls to its end
  step('100,000 events');
  const big = Number(env('BIG_JOB'));
  const bp = await newPage({ storageState: await page.context().storageState() });
  const t0 = Date.now();
  await bp.goto(`${BASE}/jobs/${big}`);
  await bp.locator('.output .ev:not(.pending)').first().waitFor();
  figures.big_job_ready_ms = Date.now() - t0;
  figures.big_job_first_paint_ms = await bp.evaluate(() => {
    const p = performance.getEntriesByName('first-contentful-paint')[0];
    return p ? Math.round(p.startTime) : null;
  });
  await bp.locator(`[data-events="${env('BIG_JOB_EVENTS')}"]`).waitFor();
  const t1 = Date.now();
  await bp.click('.output-panel button:has-text("End")');
  await bp.locator('.output .ev', { hasText: 'bulk event 100000' }).waitFor();
  figures.big_job_scroll_to_end_ms = Date.now() - t1;
  // Midway by dragging the scroll position: the page there loads on demand.
  await bp.evaluate(() => {
    const o = document.querySelector('.output');
    o.scrollTop = o.scrollHeight / 2;
  });
  await bp.locator('.output .ev', { hasText: /bulk event 5\d{4}\b/ }).first().waitFor();
  // Frames while scrolling through it as fast as the screen refreshes, 2 s long.
  const scrollFrames = (suffix) => bp.evaluate((suffix) => new Promise((done) => {
    const o = document.querySelector('.output');
    o.scrollTop = 0;
    let frames = 0, long = 0, last = performance.now();
    const end = last + 2000;
    const tick = (t) => {
      frames++;
      if (t - last > 50) long++;
      last = t;
      o.scrollTop += 3000;
      if (t < end) requestAnimationFrame(tick);
      else done({ [`scroll_frames_2s${suffix}`]: frames, [`scroll_frames_over_50ms${suffix}`]: long });
    };
    requestAnimationFrame(tick);
  }), suffix);
  Object.assign(figures, await scrollFrames(''));
  await bp.evaluate(() => {
    const o = document.querySelector('.output');
    o.scrollTop = o.scrollHeight / 2;
  });
  await bp.locator('.output .ev', { hasText: /bulk event 5\d{4}\b/ }).first().waitFor();
  const domRows = await bp.locator('.output .ev').count();
  assert.ok(domRows < 400, `only what is on screen is in the DOM (${domRows} rows)`);

  // Plays and tasks fold, with boundaries from the job's outline (its play/task start events),
  // not from what happens to be loaded: play 1's 49,999 events vanish, play 2's head follows.
  step('100,000 events: a play and a task collapse');
  await bp.click('.output-panel button:has-text("Top")');
  const play1 = bp.locator('.output .ev.head', { hasText: 'PLAY [bulk play 1]' });
  const t2 = Date.now();
  await play1.locator('button.fold[aria-expanded="true"]').click();
  await play1.locator('.folded[data-hidden="49999"]').waitFor();
  await bp.locator('.output .ev.head', { hasText: 'PLAY [bulk play 2]' }).waitFor();
  figures.big_job_fold_play_ms = Date.now() - t2;
  const shown = await bp.evaluate(() => [...document.querySelectorAll('.output .ev')]
    .map((e) => e.textContent.match(/bulk (event|task) (\d+)/)).filter((m) => m).map((m) => `${m[1]} ${m[2]}`));
  // Play 2 starts at bulk event 50001; its first task is bulk task 52.
  assert.ok(shown.length && shown.every((t) => Number(t.split(' ')[1]) > (t.startsWith('task') ? 51 : 50000)),
    `nothing of play 1 shows: ${shown.slice(0, 5)}`);
  assert.equal(await play1.locator('button.fold').getAttribute('aria-expanded'), 'false');
  // The end, with play 1 folded: the last task's events load on demand as before.
  const t3 = Date.now();
  await bp.click('.output-panel button:has-text("End")');
  await bp.locator('.output .ev', { hasText: 'bulk event 100000' }).waitFor();
  figures.big_job_scroll_to_end_folded_ms = Date.now() - t3;
  // The last task (open to the end of the job), reached from the outline, folds from the
  // keyboard, and opens again.
  await bp.click('button:has-text("Plays and tasks")');
  await bp.click('.outline button:text-is("TASK bulk task 100")');
  const task100 = bp.locator('.output .ev.head', { hasText: 'TASK [bulk task 100]' });
  // The toggle is named for what it folds (screen readers say "Collapse TASK bulk task 100").
  await bp.getByRole('button', { name: 'Collapse TASK bulk task 100', exact: true }).focus();
  await bp.keyboard.press('Enter');
  await task100.locator('.folded[data-hidden="999"]').waitFor();
  await bp.locator('.output .ev', { hasText: 'bulk event 100000' }).waitFor({ state: 'detached' });
  assert.equal(await bp.evaluate(() => document.activeElement?.dataset.fold !== undefined), true, 'focus stays on the toggle');
  await bp.keyboard.press('Enter');
  await bp.locator('.output .ev', { hasText: 'bulk event 99002' }).waitFor();
  Object.assign(figures, await scrollFrames('_folded'));
  // Open play 1 again: its events are back where they were.
  await bp.click('.output-panel button:has-text("Top")');
  await play1.locator('button.fold[aria-expanded="false"]').click();
  await bp.locator('.output .ev', { hasText: /bulk event 2\b/ }).waitFor();
  // Following a job that emits 2,000 events a second: the page's own output view, fed events
  // at that rate for 3 s (no server can be made to print that fast with a real ansible; this
  // measures what the browser does with them: one render per frame, whatever the rate).
  Object.assign(figures, await bp.evaluate(async () => {
    const src = document.querySelector('script[type=module]').src;
    const { OutputView } = await import(src.replace(/app\.js$/, 'lib/outputview.js'));
    const box = document.createElement('div');
    box.className = 'output-box';
    document.querySelector('main').append(box);
    const v = new OutputView(box, { pageSize: 200, loadPage: async () => [], live: () => true });
    v.setFollow(true);
    let n = 0, frames = 0, long = 0, last = performance.now();
    const end = last + 3000;
    const feed = setInterval(() => {
      const batch = [];
      for (let i = 0; i < 20; i++) {
        n++;
        batch.push({ counter: n, id: n, event: 'runner_on_ok', stdout: `\x1b[0;32mok: [host${n % 50}] => item ${n}\x1b[0m` });
      }
      v.add(batch);
    }, 10);
    await new Promise((done) => {
      const tick = (t) => {
        frames++;
        if (t - last > 50) long++;
        last = t;
        if (t < end) requestAnimationFrame(tick);
        else done();
      };
      requestAnimationFrame(tick);
    });
    clearInterval(feed);
    const shown = box.querySelector('.ev:last-child')?.textContent || '';
    v.destroy();
    return { follow_events_fed_3s: n, follow_frames_3s: frames, follow_frames_over_50ms: long, follow_last_line: shown };
  }));
  assert.match(figures.follow_last_line, /item \d+/, 'follow mode shows the newest events');
  await bp.context().close();

  // ---- who sees what: a user without rights
  step('a user without rights');
  // As in AWX, an organization's member sees the organization, not its templates: the admin
  // gives her the template's Read role (what AWX's access tab does), not Execute.
  const granted = await page.evaluate(async ([t, u]) => {
    const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
    const tpl = await fetch(`/api/v2/job_templates/${t}/`).then((x) => x.json());
    const r = await fetch(`/api/v2/users/${u}/roles/`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: JSON.stringify({ id: tpl.summary_fields.object_roles.read_role.id }),
    });
    return r.status;
  }, [jt, alice]);
  assert.equal(granted, 204);
  const up = await newPage();
  await login(up, env('USER'), env('USER_PW'));
  assert.equal(await up.locator('#current-user').textContent(), env('USER'));
  assert.equal(await up.locator('nav.side a:has-text("Settings")').count(), 0, 'no settings for a normal user');
  // The dashboard counts what the API lets her see (the template she may read and its jobs),
  // the chart too.
  const mine = await up.evaluate(async () => {
    const jt = await fetch('/api/v2/job_templates/').then((r) => r.json());
    const g = await fetch('/api/v2/dashboard/graphs/jobs/').then((r) => r.json());
    return { templates: jt.count, successful: g.jobs.successful.reduce((s, p) => s + p[1], 0) };
  });
  await up.locator('.tile', { hasText: 'Templates' }).locator('.n', { hasText: String(mine.templates) }).waitFor();
  await up.locator('.legend', { hasText: `Successful ${mine.successful}` }).waitFor();
  assert.ok(mine.successful < 4, 'jobs of an organization she is not in are not counted');
  await up.goto(`${BASE}/templates`);
  await up.locator('table.table').waitFor();
  assert.equal(await up.locator('a.button:has-text("Add")').count(), 0, 'no Add without the right to create');
  assert.equal(await up.locator('.row-actions :text-is("Edit"), .row-actions :text-is("Delete")').count(), 0);
  // With Read on a template she sees it but not start it (AWX's `user_capabilities.start`): no Launch,
  // in the list or on its page.
  // (UI Template was renamed UI Long when the long job was set up.)
  await up.locator('td a', { hasText: 'UI Long' }).waitFor();
  assert.equal(await up.locator('.row-actions :text-is("Launch")').count(), 0, 'no Launch for a member');
  await up.click('td a:has-text("UI Long")');
  await up.locator('h1', { hasText: 'UI Long' }).waitFor();
  await up.locator('.detail').first().waitFor();
  assert.equal(await up.locator('.page-head :text-is("Launch")').count(), 0, 'no Launch on the page');
  // Nor Relaunch on a job of it (the job's `user_capabilities.start`, as AWX's UI).
  await up.goto(`${BASE}/jobs/${job}`);
  await up.locator('.page-head .status[data-status="successful"]').waitFor();
  await up.locator('.output .ev', { hasText: 'PLAY RECAP' }).waitFor({ state: 'attached' });
  assert.equal(await up.locator('.page-head :text-is("Relaunch")').count(), 0, 'no Relaunch for a member');
  // A job of an organization she is not in: the API's refusal, shown as such.
  await up.goto(`${BASE}/jobs/${big}`);
  const denied = up.locator('.alert.error');
  await denied.waitFor();
  assert.match(await denied.textContent(), /permission|not found/i);
  // A member sees the organization, read-only: no Add, Edit or Delete (AWX's capabilities).
  await up.goto(`${BASE}/organizations`);
  await up.locator('td a', { hasText: 'UI Org' }).waitFor();
  assert.equal(await up.locator('a.button:has-text("Add")').count(), 0);
  assert.equal(await up.locator('.row-actions a, .row-actions button').count(), 0, 'no edit or delete for a member');
  await up.click('td a:has-text("UI Org")');
  await up.locator('h1', { hasText: 'UI Org' }).waitFor();
  assert.equal(await up.locator('.page-head a.button:has-text("Edit")').count(), 0);
  await up.screenshot({ path: `${ART}/user-organization.png` });

  // ---- the session ends: a clear page, then back in
  step('session expired');
  await up.context().clearCookies();
  await up.click('nav.side a:has-text("Jobs")');
  await up.locator('#session-expired').waitFor();
  // Back in with the keyboard only: the username has focus, Tab to the password, Enter.
  await up.keyboard.type(env('USER'));
  await up.keyboard.press('Tab');
  await up.keyboard.type(env('USER_PW'));
  await up.keyboard.press('Enter');
  await up.locator('#current-user').waitFor();
  await up.context().close();

  step('dark theme follows the system');
  const dark = await newPage({ colorScheme: 'dark', storageState: await page.context().storageState() });
  await dark.goto(`${BASE}/dashboard`);
  await dark.locator('.tile .n').first().waitFor();
  await dark.locator('.chart svg').waitFor();
  await dark.locator('.dash table').waitFor();
  const bg = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g2, b] = bg.match(/\d+/g).map(Number);
  assert.ok(r + g2 + b < 150, `a dark background (${bg})`);
  await dark.screenshot({ path: `${ART}/dashboard-dark.png` });
  await dark.context().close();

  step('phone width and log out');
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(`${BASE}/templates`);
  await page.click('button.menu-btn');
  await page.locator('nav.side a:has-text("Templates")').waitFor();
  await page.screenshot({ path: `${ART}/phone-templates.png` });
  await page.click('button:has-text("Log out")');
  await page.locator('#username').waitFor();
  const me = await page.evaluate(() => fetch('/api/v2/me/').then((r) => r.status));
  assert.equal(me, 401, 'logged out on the server too');

  assert.deepEqual(errors, [], 'no script errors in any page');
  writeFileSync(`${ART}/figures.json`, JSON.stringify(figures, null, 2));
  console.log(`FIGURES ${JSON.stringify(figures)}`);
} finally {
  await browser.close();
}
