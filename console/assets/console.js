// The jobqueue console: one page whose views call /console/api/<Method>
// with the JSON form of jobqueue.v1 requests. Everything shown is set as
// text (textContent, attributes), never parsed as HTML.
'use strict';
(() => {
  const view = document.getElementById('view');
  const notice = document.getElementById('notice');
  const tokenKey = 'jobqueue-console-token';

  // --- Calls -------------------------------------------------------------
  async function call(method, request) {
    const headers = {
      'Content-Type': 'application/json',
      'X-Jobqueue-Console': '1',
    };
    const token = sessionStorage.getItem(tokenKey);
    if (token) headers.Authorization = 'Bearer ' + token;
    const response = await fetch('/console/api/' + method, {
      method: 'POST',
      headers,
      body: JSON.stringify(request || {}),
      credentials: 'omit',
    });
    let body;
    try {
      body = await response.json();
    } catch (e) {
      body = {code: 'UNKNOWN', message: 'HTTP ' + response.status};
    }
    if (!response.ok) {
      const error = new Error(body.message || 'HTTP ' + response.status);
      error.code = body.code;
      throw error;
    }
    return body;
  }

  // --- Elements: text only -----------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on')) {
        node.addEventListener(key.slice(2), value);
      } else if (key === 'className') {
        node.className = value;
      } else {
        node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  function table(headings, rows) {
    return el('table', {},
        el('thead', {}, el('tr', {}, headings.map((h) => el('th', {}, h)))),
        el('tbody', {}, rows.length ? rows : el('tr', {},
            el('td', {colspan: headings.length, className: 'muted'},
                'nothing to show'))));
  }
  function fields(pairs) {
    return el('dl', {className: 'fields'}, pairs
        .filter(([, v]) => v !== undefined && v !== null && v !== '')
        .map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }
  // Previous and Next over a list's pages: state.tokens holds the tokens of
  // the pages seen so far ('' for the first).
  function pager(state, nextToken) {
    return el('div', {className: 'pager'},
        state.tokens.length > 1 && el('button', {onclick: () => {
          state.tokens.pop();
          render();
        }}, 'Previous'),
        nextToken && el('button', {id: 'next-page', onclick: () => {
          state.tokens.push(nextToken);
          render();
        }}, 'Next'));
  }
  function say(message, isError) {
    notice.hidden = false;
    notice.className = isError ? 'error' : '';
    notice.textContent = message;
  }
  function failure(error) {
    if (error.code === 'UNAUTHENTICATED') {
      return el('p', {className: 'error', id: 'unauthenticated'},
          'The server wants a bearer token: enter it above. (', error.message,
          ')');
    }
    return el('p', {className: 'error'}, error.code || 'error', ': ',
        error.message);
  }

  // --- Formats -----------------------------------------------------------
  const short = (value, prefix) =>
    value ? String(value).replace(prefix, '').toLowerCase() : '';
  const status = (s) => short(s, 'JOB_STATUS_');
  const time = (t) => (t ? String(t).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
  const seconds = (d) => (d ? parseFloat(d) : 0);
  function age(s) {
    if (!s) return '0 s';
    if (s < 120) return s.toFixed(1) + ' s';
    if (s < 7200) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  }
  const jobLink = (id) => el('a', {href: '#/jobs/' + encodeURIComponent(id)}, id);
  const json = (value) => el('pre', {}, JSON.stringify(value, null, 2));
  function confirmed(question) {
    return window.confirm(question);
  }

  // Views register themselves here (views_*.js): name -> async function
  // returning the elements to show.
  const views = {};

  // --- Routing -----------------------------------------------------------
  async function render() {
    const path = location.hash.replace(/^#\/?/, '') || 'overview';
    const [name, arg] = path.split('/');
    for (const link of document.querySelectorAll('header nav a')) {
      link.classList.toggle('current', link.dataset.view === name);
    }
    const page = name === 'jobs' && arg ?
      () => views.job(decodeURIComponent(arg)) : views[name] || views.overview;
    view.removeAttribute('data-ready');
    view.replaceChildren(el('p', {className: 'muted'}, 'Loading…'));
    const started = performance.now();
    try {
      view.replaceChildren(...[await page()].flat(2).filter(Boolean));
    } catch (error) {
      view.replaceChildren(failure(error));
    }
    view.dataset.ms = String(Math.round(performance.now() - started));
    view.dataset.ready = name;
  }
  window.addEventListener('hashchange', () => {
    notice.hidden = true;
    render();
  });
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(tokenKey, document.getElementById('token').value);
    render();
  });
  window.jobqueueConsole = {views, call, el, table, fields, pager, time, age,
    seconds, status, short, jobLink, json, confirmed, say, failure, render};
  // After every deferred script, so each view has registered.
  document.addEventListener('DOMContentLoaded', render);
})();
