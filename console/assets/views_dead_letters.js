// Dead letters: what could not be delivered or processed
// (ListDeadLetters, newest first, filtered), and replay (ReplayDeadLetters),
// which records who replayed each and what came of it.
'use strict';
(() => {
  const {views, call, el, table, pager, time, json, jobLink, confirmed, say,
    render} = window.jobqueueConsole;
  const state = {filter: {}, tokens: ['']};
  const operatorKey = 'jobqueue-console-operator';

  async function replay(ids) {
    const operator = document.getElementById('operator').value.trim();
    if (!operator) {
      say('Enter your name first: each replay records who asked for it.', true);
      return;
    }
    sessionStorage.setItem(operatorKey, operator);
    if (!confirmed('Replay ' + ids.length + ' dead letter(s) as ' + operator + '?')) {
      return;
    }
    try {
      const answer = await call('ReplayDeadLetters', {ids, requestedBy: operator});
      const results = answer.results || [];
      const now = results.filter((r) => r.replayedNow).length;
      const failed = results.filter((r) => r.code).map((r) =>
        r.deadLetterId + ': ' + r.message);
      say('Replayed ' + now + ', already replayed ' +
        (results.length - now - failed.length) +
        (failed.length ? ', not replayed: ' + failed.join('; ') : ''),
      failed.length > 0);
    } catch (error) {
      say('ReplayDeadLetters: ' + error.message, true);
    }
    render();
  }

  function outcome(d) {
    const r = d.replay;
    if (!r || !r.replayedAt) return '';
    return [r.error ? 'failed: ' + r.error : 'replayed', ' by ', r.requestedBy,
      ' at ', time(r.replayedAt), r.jobId ? [' → ', jobLink(r.jobId)] : ''];
  }

  views['dead-letters'] = async () => {
    const page = state.tokens[state.tokens.length - 1];
    const answer = await call('ListDeadLetters',
        Object.assign({pageSize: 50, pageToken: page}, state.filter));
    const form = el('form', {className: 'filters', id: 'dead-letter-filters'},
        el('label', {}, 'Source', el('input', {name: 'source',
          value: state.filter.source || ''})),
        el('label', {}, 'Reason contains', el('input', {name: 'reasonContains',
          value: state.filter.reasonContains || ''})),
        el('label', {}, 'Seen since (UTC)', el('input', {name: 'since',
          type: 'datetime-local', step: 1})),
        el('label', {}, 'Seen until (UTC)', el('input', {name: 'until',
          type: 'datetime-local', step: 1})),
        el('button', {type: 'submit'}, 'Filter'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const filter = {};
      for (const [key, value] of new FormData(form).entries()) {
        if (value) filter[key] = key === 'since' || key === 'until' ? value + 'Z' : value;
      }
      state.filter = filter;
      state.tokens = [''];
      render();
    });
    const letters = answer.deadLetters || [];
    const rows = letters.map((d) => el('tr', {'data-id': d.id},
        el('td', {}, el('input', {type: 'checkbox', className: 'pick',
          value: d.id})),
        el('td', {}, time(d.lastSeenAt)), el('td', {}, d.source),
        el('td', {}, d.reason), el('td', {className: 'num'}, d.attempts),
        el('td', {}, d.jobId ? jobLink(d.jobId) : d.deliveryId),
        el('td', {}, el('details', {}, el('summary', {}, 'payload'),
            json(d.rawPayload))),
        el('td', {className: 'outcome'}, outcome(d)),
        el('td', {}, el('button', {className: 'replay', onclick: () =>
          replay([d.id])}, 'Replay'))));
    const operator = el('input', {id: 'operator', placeholder: 'your name',
      value: sessionStorage.getItem(operatorKey) || ''});
    return [el('h1', {}, 'Dead letters'), form,
      el('div', {className: 'pager'}, el('label', {}, 'Replay as ', operator),
          el('button', {id: 'replay-selected', onclick: () => {
            const ids = [...document.querySelectorAll('input.pick:checked')]
                .map((box) => box.value);
            if (ids.length) replay(ids);
          }}, 'Replay selected')),
      table(['', 'Last seen', 'Source', 'Reason', 'Attempts', 'Job or delivery',
        'Payload', 'Replay', ''], rows),
      pager(state, answer.nextPageToken)];
  };
})();
