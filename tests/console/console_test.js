// Drives the console in Debian's Chromium (headless, through puppeteer-core)
// against a server tools/console-test started, and checks what an operator
// would see and do. Prints one line per check; exits 1 if any failed.
'use strict';
const {execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const base = process.env.CONSOLE_URL;  // http://127.0.0.1:PORT/console
const token = process.env.CONSOLE_TOKEN;
const out = process.env.CONSOLE_OUT;
const api = base + '/api/';
const failedJob = '22222222-2222-4222-8222-000000000002';
const htmlJob = '22222222-2222-4222-8222-000000000001';

const sql = (query) => execFileSync('psql', ['-qtAX', process.env.DATABASE_URL,
  '-c', query], {encoding: 'utf8'}).trim();
function expect(condition, what) {
  if (!condition) throw new Error(what);
}

let passed = 0;
let failed = 0;
async function check(name, body) {
  try {
    await body();
    passed++;
    console.log('ok   ' + name);
  } catch (error) {
    failed++;
    console.log('FAIL ' + name + ': ' + (error && error.stack || error));
  }
}

const loadTimes = [];
// Loads the console afresh at a view and waits until it has rendered;
// keeps a screenshot and the time from navigation to a rendered view.
async function open(page, view, shot) {
  await page.goto(base + '?at=' + Date.now() + '#/' + view);
  const name = view.split('/')[0];
  await page.waitForFunction((v) =>
    document.getElementById('view').dataset.ready === v, {timeout: 15000}, name);
  const ms = await page.evaluate(() => Math.round(performance.now()));
  if (shot) {
    loadTimes.push(`${shot}: ${ms} ms from navigation to a rendered view`);
    await page.screenshot({path: path.join(out, shot + '.png'), fullPage: true});
  }
  return page;
}
const text = (page, selector) =>
  page.$eval(selector, (node) => node.textContent);
async function postJson(method, body, headers) {
  const response = await fetch(api + method, {
    method: 'POST', body: JSON.stringify(body),
    headers: Object.assign({'Content-Type': 'application/json',
      'X-Jobqueue-Console': '1'}, headers),
  });
  return {status: response.status, body: await response.json()};
}
const paused = () =>
  sql(`SELECT count(*) FROM queues WHERE name = 'default' AND paused_at IS NOT NULL`);

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  try {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({width: 1280, height: 900});
    await page.evaluateOnNewDocument((t) =>
      sessionStorage.setItem('jobqueue-console-token', t), token);
    page.on('dialog', (dialog) => dialog.accept());
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));

    await check('a page without the token shows no data and asks for it', async () => {
      const anonymous = await (await browser.createBrowserContext()).newPage();
      await open(anonymous, 'jobs');
      expect(await anonymous.$('#unauthenticated'), 'no token request shown');
      expect((await anonymous.$$('#view tbody tr')).length === 0, 'rows shown');
      const answer = await postJson('ListJobs', {});
      expect(answer.status === 401 && answer.body.code === 'UNAUTHENTICATED',
          `a call without the token answered ${answer.status}`);
      const wrong = await postJson('ListJobs', {}, {Authorization: 'Bearer x'});
      expect(wrong.status === 401, `a wrong token answered ${wrong.status}`);
    });

    await check('requests from another site change nothing', async () => {
      // A script on another origin with the token cannot get past CORS.
      const script = await browser.newPage();
      await script.setContent('<p>another site</p>');
      const blocked = await script.evaluate(async (url, t) => {
        try {
          await fetch(url, {method: 'POST', body: '{"queue":"default"}',
            headers: {'Content-Type': 'application/json',
              'X-Jobqueue-Console': '1', 'Authorization': 'Bearer ' + t}});
          return false;
        } catch (e) {
          return true;
        }
      }, api + 'PauseQueue', token);
      expect(blocked, 'a cross-origin fetch went through');
      await script.close();
      // A form on another page posting text/plain (no preflight needed).
      const other = await browser.newPage();
      await other.setContent(`<form method="POST" enctype="text/plain"
        action="${api}PauseQueue"><input name='{"queue":"default","x":"'
        value='"}'></form>`);
      await Promise.all([other.waitForNavigation(),
        other.$eval('form', (f) => f.submit())]);
      expect((await other.content()).includes('Content-Type must be'),
          'the cross-site form was not refused by name');
      const origin = await postJson('PauseQueue', {queue: 'default'},
          {Authorization: 'Bearer ' + token, Origin: 'http://evil.example'});
      expect(origin.status === 403, `a foreign Origin answered ${origin.status}`);
      expect(paused() === '0', 'the queue was paused by a cross-site request');
      await other.close();
    });

    await check('jobs page lists jobs and pages through them', async () => {
      await open(page, 'jobs', 'jobs');
      const first = await page.$$eval('#view tbody tr', (rows) => rows.length);
      expect(first === 50, `first page has ${first} rows, not 50`);
      const rest = Number(sql('SELECT count(*) FROM jobs')) - 50;
      await page.click('#next-page');
      await page.waitForFunction((n) =>
        document.getElementById('view').dataset.ready === 'jobs' &&
        document.querySelectorAll('#view tbody tr').length === n, {}, rest);
      await page.select('select[name=status]', 'JOB_STATUS_FAILED');
      await page.click('#job-filters button[type=submit]');
      await page.waitForFunction(() =>
        document.getElementById('view').dataset.ready === 'jobs' &&
        document.querySelectorAll('#view tbody tr').length === 2);
      expect((await text(page, '#view tbody')).includes(failedJob),
          'the status filter did not find the failed job');
    });

    await check('HTML in a payload or an error is shown as text', async () => {
      await open(page, 'jobs/' + htmlJob, 'job');
      const payload = await text(page, '#payload');
      expect(payload.includes('<img src=x onerror='), 'payload not shown as text');
      expect((await page.$$('#view img')).length === 0, 'an img element was made');
      await open(page, 'jobs/' + failedJob);
      const shown = await text(page, '#view');
      expect(shown.includes('<script>window.__injected = 2'),
          'error not shown as text: ' + shown.slice(0, 300));
      expect(await page.evaluate(() => window.__injected === undefined),
          'text from a job ran as script');
    });

    await check('retry from a job page re-queues the job', async () => {
      await open(page, 'jobs/' + failedJob);
      await page.click('#retry-job');
      await page.waitForFunction(() =>
        document.getElementById('view').dataset.ready === 'jobs' &&
        document.querySelector('#view .status').textContent === 'pending');
      const status = sql(`SELECT status FROM jobs WHERE id = '${failedJob}'`);
      expect(status === 'pending', `the job is ${status}`);
    });

    await check('pause and resume from the actions page', async () => {
      await open(page, 'actions', 'actions');
      await page.type('#pause-reason', 'SMS provider down <b>');
      await page.click('#pause-queue');
      await page.waitForFunction(() =>
        document.querySelector('#queue-state .paused') !== null);
      await page.screenshot({path: path.join(out, 'actions.png'), fullPage: true});
      const row = sql(`SELECT pause_reason FROM queues WHERE name = 'default'
                       AND paused_at IS NOT NULL`);
      expect(row === 'SMS provider down <b>', `paused row: "${row}"`);
      await page.click('#resume-queue');
      await page.waitForFunction(() =>
        document.querySelector('#queue-state .paused') === null &&
        document.querySelector('#queue-state dd') !== null);
      expect(paused() === '0', 'still paused after Resume');
    });

    await check('overview shows each queue as the database counts it, and a chart', async () => {
      await open(page, 'overview', 'overview');
      const pending = sql(`SELECT count(*) FROM jobs WHERE queue = 'default'
                           AND status = 'pending'`);
      const cells = await page.$$eval('#view tr[data-queue=default] td',
          (tds) => tds.map((td) => td.textContent));
      expect(cells[2] === pending, `pending shown ${cells[2]}, counted ${pending}`);
      expect(await page.evaluate(() =>
        Chart.getChart(document.getElementById('throughput')) !== undefined),
      'no throughput chart');
    });

    await check('conversations page says why a head waits', async () => {
      await open(page, 'conversations', 'conversations');
      const rows = await page.$$eval('#view tbody tr',
          (trs) => trs.map((tr) => tr.textContent));
      const held = rows.find((r) => r.startsWith('chat-c'));
      expect(held && held.includes('processing by worker-7'),
          'chat-c not shown as held by worker-7: ' + held);
      expect(held.endsWith('2'), 'chat-c does not show 2 jobs behind: ' + held);
    });

    await check('a dead letter replayed from the page re-queues its job once', async () => {
      await open(page, 'dead-letters', 'dead-letters');
      expect((await text(page, '#view tbody')).includes('<i>gave up</i>'),
          'the reason is not shown as text');
      expect((await page.$$('#view tbody i')).length === 0, 'HTML was parsed');
      await page.type('#operator', 'ops-alice');
      await page.click('#view tbody tr button.replay');
      await page.waitForFunction(() =>
        (document.querySelector('#view td.outcome') || {}).textContent
            ?.includes('replayed by ops-alice'));
      const job = sql(`SELECT status FROM jobs
                       WHERE id = '22222222-2222-4222-8222-000000000003'`);
      expect(job === 'pending', `the dead letter's job is ${job}`);
      await page.click('#view tbody tr button.replay');  // again
      await page.waitForFunction(() =>
        document.getElementById('notice').textContent.includes('already replayed 1'));
      const replays = sql(`SELECT count(*) || ' ' || min(requested_by)
                           FROM dead_letter_replays`);
      expect(replays === '1 ops-alice', 'replays recorded: ' + replays);
    });

    await check('bulk cancel from the page cancels what the filter matches', async () => {
      await open(page, 'actions');
      const matching = sql(`SELECT count(*) FROM jobs
                            WHERE source_channel_id = 'bulk-3' AND status = 'pending'`);
      const others = sql(`SELECT count(*) FROM jobs WHERE status = 'pending'`);
      await page.type('#bulk-form input[name=sourceChannelId]', 'bulk-3');
      await page.click('#bulk-cancel');
      await page.waitForFunction(() =>
        document.getElementById('bulk-result').textContent.startsWith('Cancelled'));
      expect((await text(page, '#bulk-result')).startsWith('Cancelled ' + matching),
          'result: ' + await text(page, '#bulk-result'));
      const left = sql(`SELECT count(*) FROM jobs WHERE status = 'pending'`);
      expect(Number(left) === Number(others) - Number(matching),
          `pending ${others} -> ${left}, ${matching} matched`);
    });

    await check('no script errors on any page', async () => {
      expect(pageErrors.length === 0, pageErrors.join('; '));
    });
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(out, 'load-times.txt'), loadTimes.join('\n') + '\n');
  for (const line of loadTimes) console.log('load ' + line);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((error) => {
  console.log('FAIL the browser test could not run: ' + (error.stack || error));
  process.exit(1);
});
