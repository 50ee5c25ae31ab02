// Jobs: ListJobs with its filters and pages; a job's detail (GetJob) with
// retry and cancel.
'use strict';
(() => {
  const {views, call, el, table, fields, pager, time, status, short, jobLink, json,
    confirmed, say, failure, render} = window.jobqueueConsole;

  const jobsState = {filter: {}, tokens: ['']};
  views.jobs = async () => {
    const page = jobsState.tokens[jobsState.tokens.length - 1];
    const request = Object.assign({pageSize: 50, pageToken: page}, jobsState.filter);
    const answer = await call('ListJobs', request);
    const form = el('form', {className: 'filters', id: 'job-filters'},
        el('label', {}, 'Status', el('select', {name: 'status'},
            ['', 'PENDING', 'PROCESSING', 'SCHEDULED', 'FAILED', 'CANCELLED',
              'COMPLETE'].map((s) => el('option', {
              value: s ? 'JOB_STATUS_' + s : '',
              selected: jobsState.filter.status === 'JOB_STATUS_' + s,
            }, s ? s.toLowerCase() : 'any')))),
        el('label', {}, 'User id', el('input', {name: 'userId', size: 36,
          value: jobsState.filter.userId || ''})),
        el('label', {}, 'Conversation (source channel id)', el('input', {
          name: 'sourceChannelId', value: jobsState.filter.sourceChannelId || ''})),
        el('label', {}, 'Created after (UTC)', el('input', {
          name: 'createdAfter', type: 'datetime-local', step: 1})),
        el('label', {}, 'Created before (UTC)', el('input', {
          name: 'createdBefore', type: 'datetime-local', step: 1})),
        el('button', {type: 'submit'}, 'Filter'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const filter = {};
      for (const [key, value] of data.entries()) {
        if (!value) continue;
        filter[key] = key.startsWith('created') ? value + 'Z' : value;
      }
      jobsState.filter = filter;
      jobsState.tokens = [''];
      render();
    });
    const rows = answer.jobs.map((job) => el('tr', {},
        el('td', {}, jobLink(job.id)),
        el('td', {}, job.queue),
        el('td', {}, job.sourceChannelId),
        el('td', {className: 'status'}, status(job.status)),
        el('td', {className: 'num'}, job.attempts + '/' + job.maxAttempts),
        el('td', {}, time(job.createdAt)),
        el('td', {}, job.lastError)));
    return [el('h1', {}, 'Jobs'), form,
      table(['Id', 'Queue', 'Conversation', 'Status', 'Attempts', 'Created',
        'Last error'], rows), pager(jobsState, answer.nextPageToken)];
  };

  async function jobAction(method, request, question) {
    if (!confirmed(question)) return;
    try {
      await call(method, request);
      say(method + ' done');
    } catch (error) {
      say(method + ': ' + error.message, true);
    }
    render();
  }

  views.job = async (id) => {
    const job = await call('GetJob', {id});
    const s = status(job.status);
    const actions = el('div', {className: 'pager'},
        s === 'failed' && el('button', {id: 'retry-job', onclick: () =>
          jobAction('RetryJob', {jobId: job.id}, 'Retry job ' + job.id + '?')},
        'Retry'),
        ['pending', 'scheduled', 'processing'].includes(s) &&
          el('button', {id: 'cancel-job', className: 'danger', onclick: () =>
            jobAction('CancelJob', {id: job.id}, 'Cancel job ' + job.id + '?')},
          'Cancel'));
    const attempts = (job.attemptErrors || []).map((a) => el('tr', {},
        el('td', {className: 'num'}, a.attempt), el('td', {}, time(a.failedAt)),
        el('td', {}, a.workerId), el('td', {}, a.error)));
    return [el('h1', {}, 'Job ', job.id), actions,
      fields([
        ['Status', el('span', {className: 'status'}, s)],
        ['Queue', job.queue], ['Conversation', job.sourceChannelId],
        ['Source type', short(job.sourceType, 'SOURCE_TYPE_')],
        ['User', job.userId], ['Phone', job.userPhone],
        ['Content type', short(job.contentType, 'CONTENT_TYPE_')],
        ['Priority', job.priority], ['Unordered', job.unordered ? 'yes' : ''],
        ['Idempotency key', job.idempotencyKey],
        ['Attempts', job.attempts + ' of ' + job.maxAttempts],
        ['Created', time(job.createdAt)], ['Updated', time(job.updatedAt)],
        ['Runs after', time(job.runAfter)],
        ['Leased by', job.workerId],
        ['Lease until', time(job.leaseExpiresAt)],
        ['Run-time limit', job.maxRunTime], ['Run deadline', time(job.runDeadline)],
        ['Cancel requested', time(job.cancelRequestedAt)],
        ['Last error', job.lastError], ['Payload error', job.payloadError],
      ]),
      el('h2', {}, 'Payload'), el('div', {id: 'payload'}, json(job.payload)),
      job.result && [el('h2', {}, 'Result'), json(job.result)],
      el('h2', {}, 'Failed attempts'),
      table(['Attempt', 'Failed at', 'Worker', 'Error'], attempts)];
  };
})();
