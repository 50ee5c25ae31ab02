// Actions: pause and resume a queue.
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
      state];
  };
})();
