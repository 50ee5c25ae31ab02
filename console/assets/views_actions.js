// Actions: pause and resume a queue; retry or cancel jobs by filter
// (RetryJobs, CancelJobs), confirmed with the count a dry run finds.
'use strict';
(() => {
  const {views, call, el, table, fields, time, status, short, jobLink, json,
    confirmed, say, failure, render} = window.jobqueueConsole;

  views.actions = async () => {
    const queueName = el('input', {id: 'queue-name', value: 'default'});
    const reason = el('input', {id: 'pause-reason', size: 40,
      placeholder: 'why (shown to other operators)'});
    const state = el('div', {id: 'queue-state'});
    async function show() {
      try {
        const queue = await call('GetQueue', {name: queueName.value});
        state.replaceChildren(fields([
          ['Queue', queue.name],
          ['State', queue.pausedAt ?
            el('span', {className: 'paused'}, 'paused since ',
                time(queue.pausedAt), queue.pauseReason ?
                  ' (' + queue.pauseReason + ')' : '') : 'running'],
          ['Rate limit', queue.rateLimit ? queue.rateLimit.jobsPerSecond +
            ' jobs/s, burst ' + queue.rateLimit.burst : 'none'],
        ]));
      } catch (error) {
        state.replaceChildren(failure(error));
      }
    }
    async function act(method, request, question) {
      if (!confirmed(question)) return;
      try {
        await call(method, request);
        say(method + ' ' + queueName.value + ' done');
      } catch (error) {
        say(method + ': ' + error.message, true);
      }
      show();
    }
    await show();
    return [el('h1', {}, 'Actions'),
      el('h2', {}, 'Pause or resume a queue'),
      el('form', {className: 'filters', onsubmit: (e) => {
        e.preventDefault();
        show();
      }}, el('label', {}, 'Queue', queueName),
      el('button', {type: 'submit'}, 'Look up'),
      el('label', {}, 'Reason', reason),
      el('button', {type: 'button', id: 'pause-queue', className: 'danger',
        onclick: () => act('PauseQueue',
            {queue: queueName.value, reason: reason.value},
            'Pause queue ' + queueName.value + '? Claims stop on every replica.')},
      'Pause'),
      el('button', {type: 'button', id: 'resume-queue', onclick: () =>
        act('ResumeQueue', {queue: queueName.value},
            'Resume queue ' + queueName.value + '?')}, 'Resume')),
      state, bulkSection()];
  };

  // The filter of RetryJobs / CancelJobs from the bulk form.
  function bulkRequest(form, method) {
    const request = {limit: Number(form.elements.limit.value) || 100};
    for (const key of ['userId', 'sourceChannelId', 'sourceType']) {
      if (form.elements[key].value) request[key] = form.elements[key].value;
    }
    for (const key of ['createdAfter', 'createdBefore']) {
      if (form.elements[key].value) request[key] = form.elements[key].value + 'Z';
    }
    if (method === 'CancelJobs' && form.elements.cancelStatus.value) {
      request.status = form.elements.cancelStatus.value;
    }
    if (form.elements.all.checked) request.all = true;
    return request;
  }

  async function bulk(form, method) {
    const request = bulkRequest(form, method);
    const result = document.getElementById('bulk-result');
    try {
      const preview = await call(method, Object.assign({dryRun: true}, request));
      const count = method === 'RetryJobs' ? preview.retried :
        preview.cancelled + preview.cancelRequested;
      const what = method === 'RetryJobs' ? 'Retry ' + count + ' failed job(s)' :
        'Cancel ' + count + ' job(s) (' + preview.cancelRequested +
        ' processing: their workers are told)';
      if (!count) {
        result.textContent = 'No job matches this filter.';
        return;
      }
      if (!confirmed(what + (preview.more ? ', the first ' + request.limit +
        ' of more that match' : '') + '?')) return;
      const done = await call(method, request);
      result.textContent = method === 'RetryJobs' ?
        'Retried ' + done.retried + (done.more ? '; more match: run it again' : '') :
        'Cancelled ' + done.cancelled + ', cancel requested for ' +
          done.cancelRequested + (done.more ? '; more match: run it again' : '');
    } catch (error) {
      result.textContent = method + ': ' + error.message;
    }
  }

  function bulkSection() {
    const form = el('form', {className: 'filters', id: 'bulk-form'},
        el('label', {}, 'User id', el('input', {name: 'userId'})),
        el('label', {}, 'Conversation', el('input', {name: 'sourceChannelId'})),
        el('label', {}, 'Source type', el('select', {name: 'sourceType'},
            el('option', {value: ''}, 'any'),
            el('option', {value: 'SOURCE_TYPE_DM'}, 'dm'),
            el('option', {value: 'SOURCE_TYPE_GROUP'}, 'group'))),
        el('label', {}, 'Created after (UTC)', el('input', {
          name: 'createdAfter', type: 'datetime-local', step: 1})),
        el('label', {}, 'Created before (UTC)', el('input', {
          name: 'createdBefore', type: 'datetime-local', step: 1})),
        el('label', {}, 'Cancel only', el('select', {name: 'cancelStatus'},
            el('option', {value: ''}, 'pending, scheduled, processing'),
            el('option', {value: 'JOB_STATUS_PENDING'}, 'pending'),
            el('option', {value: 'JOB_STATUS_SCHEDULED'}, 'scheduled'),
            el('option', {value: 'JOB_STATUS_PROCESSING'}, 'processing'))),
        el('label', {}, 'At most', el('input', {name: 'limit', type: 'number',
          min: 1, max: 1000, value: 100})),
        el('label', {}, 'No filter: every job', el('input', {name: 'all',
          type: 'checkbox'})),
        el('button', {type: 'button', id: 'bulk-retry', onclick: () =>
          bulk(form, 'RetryJobs')}, 'Retry failed jobs'),
        el('button', {type: 'button', id: 'bulk-cancel', className: 'danger',
          onclick: () => bulk(form, 'CancelJobs')}, 'Cancel jobs'));
    return [el('h2', {}, 'Retry or cancel jobs by filter'), form,
      el('p', {id: 'bulk-result', role: 'status'})];
  }
})();
