// Conversations: those with waiting work, oldest waiting first
// (ListConversations), with their head job, why it is not running, and how
// many jobs wait behind it.
'use strict';
(() => {
  const {views, call, el, table, pager, time, status, short, jobLink, render} =
    window.jobqueueConsole;
  const state = {queue: '', tokens: ['']};

  function why(c) {
    const head = c.head || {};
    switch (c.headWait) {
      case 'HEAD_WAIT_PROCESSING':
        return 'processing by ' + (head.workerId || '?') + ' until ' +
          time(head.leaseExpiresAt);
      case 'HEAD_WAIT_BACKOFF':
        return 'backing off until ' + time(head.runAfter) +
          (head.lastError ? ' after: ' + head.lastError : '');
      case 'HEAD_WAIT_NOT_DUE':
        return 'scheduled for ' + time(head.runAfter);
      case 'HEAD_WAIT_QUEUE_PAUSED':
        return 'queue ' + c.queue + ' is paused';
      case 'HEAD_WAIT_RATE_LIMITED':
        return 'queue ' + c.queue + ' is out of rate-limit tokens';
      case 'HEAD_WAIT_READY':
        return 'ready: waiting for a worker to claim it';
      default:
        return short(c.headWait, 'HEAD_WAIT_');
    }
  }

  views.conversations = async () => {
    const answer = await call('ListConversations', {queue: state.queue,
      pageSize: 50, pageToken: state.tokens[state.tokens.length - 1]});
    const queue = el('input', {name: 'queue', value: state.queue,
      placeholder: 'every queue'});
    const form = el('form', {className: 'filters', onsubmit: (e) => {
      e.preventDefault();
      state.queue = queue.value;
      state.tokens = [''];
      render();
    }}, el('label', {}, 'Queue', queue), el('button', {type: 'submit'}, 'Filter'));
    const rows = (answer.conversations || []).map((c) => el('tr', {},
        el('td', {}, c.sourceChannelId), el('td', {}, c.queue),
        el('td', {}, time(c.waitingSince)),
        el('td', {}, c.head && c.head.id ? jobLink(c.head.id) : ''),
        el('td', {}, c.head ? status(c.head.status) : ''),
        el('td', {className: 'why'}, why(c)),
        el('td', {className: 'num'}, c.jobsBehind)));
    return [el('h1', {}, 'Conversations with waiting work'), form,
      table(['Conversation', 'Queue', 'Waiting since', 'Head job', 'Head status',
        'Why the head is not running', 'Jobs behind'], rows),
      pager(state, answer.nextPageToken)];
  };
})();
