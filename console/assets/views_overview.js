// Overview: every queue's depth by status, oldest pending age, state and
// rate limit (GetQueueStats), and a chart of jobs claimed and completed per
// minute over the last 15 minutes, across every replica.
'use strict';
(() => {
  const {views, call, el, table, time, age, seconds} = window.jobqueueConsole;
  let chart = null;

  function perMinute(queues) {
    const byMinute = new Map();
    for (const queue of queues) {
      for (const m of queue.minutes || []) {
        const at = m.startTime;
        const sum = byMinute.get(at) || {claimed: 0, completed: 0, failed: 0};
        sum.claimed += Number(m.claimed);
        sum.completed += Number(m.completed);
        sum.failed += Number(m.failed);
        byMinute.set(at, sum);
      }
    }
    return [...byMinute.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  function draw(canvas, minutes) {
    if (chart) chart.destroy();
    if (typeof Chart === 'undefined') return;
    const series = (key, color) => ({
      label: key, data: minutes.map(([, m]) => m[key]), borderColor: color,
      backgroundColor: color, tension: 0.2, pointRadius: 2,
    });
    chart = new Chart(canvas, {
      type: 'line',
      data: {
        labels: minutes.map(([at]) => time(at).slice(11, 16)),
        datasets: [series('claimed', '#3b6fd8'), series('completed', '#2e9d57'),
          series('failed', '#c0392b')],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {y: {beginAtZero: true, title: {display: true,
          text: 'jobs per minute'}}},
      },
    });
  }

  views.overview = async () => {
    const answer = await call('GetQueueStats', {minutes: 15});
    const queues = answer.queues || [];
    const rows = queues.map((q) => {
      const last = (q.minutes || []).slice(-1)[0] || {};
      return el('tr', {'data-queue': q.queue},
          el('td', {}, q.queue),
          el('td', {}, q.paused ? el('span', {className: 'paused'}, 'paused',
              q.pauseReason ? ' (' + q.pauseReason + ')' : '') : 'running'),
          el('td', {className: 'num'}, q.pending),
          el('td', {className: 'num'}, q.processing),
          el('td', {className: 'num'}, q.scheduled),
          el('td', {className: 'num'}, q.failed),
          el('td', {className: 'num'}, q.cancelled),
          el('td', {className: 'num'}, q.complete),
          el('td', {className: 'num'}, age(seconds(q.oldestPendingAge))),
          el('td', {className: 'num'}, last.claimed || 0),
          el('td', {className: 'num'}, last.completed || 0),
          el('td', {}, q.rateLimit && q.rateLimit.jobsPerSecond ?
            q.rateLimit.jobsPerSecond + '/s, burst ' + q.rateLimit.burst : ''));
    });
    const canvas = el('canvas', {id: 'throughput'});
    const content = [el('h1', {}, 'Overview'),
      el('div', {className: 'chart'}, canvas),
      table(['Queue', 'State', 'Pending', 'Processing', 'Scheduled', 'Failed',
        'Cancelled', 'Complete', 'Oldest pending', 'Claimed (last min)',
        'Completed (last min)', 'Rate limit'], rows)];
    // Drawn once the canvas is in the page (Chart.js measures it).
    requestAnimationFrame(() => draw(canvas, perMinute(queues)));
    return content;
  };
})();
