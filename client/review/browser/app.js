// @ts-check
/*
 * The reviewer tool's script, for both of its pages: the reviewer's name, times in the reader's
 * zone, polling, decisions and bulk approve. The server inlines it in each page under the
 * response's CSP nonce (../assets.ts). Plain JavaScript with JSDoc types, checked by tsc against
 * the DOM (./tsconfig.json), so it needs no build step.
 */

/**
 * @typedef {{ kind: string, label: string, done: boolean, awaiting: boolean, maxApprovals: number }} BriefState
 * @typedef {{ page: 'queue', filter: string } | { page: 'brief', workflowId: string, state: BriefState }} PageData
 * @typedef {{ workflowId: string, subject?: string, topScore?: number | null, result: string, candidateIds?: string[], reason?: string }} BulkItem
 * @typedef {{ dryRun: boolean, approved: number, skipped: number, minScore: number, items: BulkItem[] }} BulkResult
 */

(() => {
  'use strict';

  /**
   * `el`, checked to be the kind of element the server's page puts there: this fails only on a bug.
   * @template {Element} T
   * @param {unknown} el
   * @param {{ new (): T }} kind
   * @returns {T}
   */
  function as(el, kind) {
    if (!(el instanceof kind)) throw new Error(`expected a ${kind.name}`);
    return el;
  }
  /** @param {string} id */
  const byId = (id) => document.getElementById(id);

  // ── reviewer name ──
  const REVIEWER_KEY = 'darkroom.reviewer';
  const who = byId('reviewer');
  const whoInput = who instanceof HTMLInputElement ? who : null;
  if (whoInput) {
    whoInput.value = localStorage.getItem(REVIEWER_KEY) || '';
    whoInput.addEventListener('change', () => localStorage.setItem(REVIEWER_KEY, whoInput.value.trim()));
  }
  function reviewer() {
    const v = whoInput ? whoInput.value.trim() : '';
    if (v) localStorage.setItem(REVIEWER_KEY, v);
    return v || localStorage.getItem(REVIEWER_KEY) || 'reviewer';
  }

  /** @param {ParentNode} root */
  function localTimes(root) {
    for (const el of root.querySelectorAll('time')) {
      if (!el.hasAttribute('datetime')) continue;
      const d = new Date(el.dateTime);
      if (isNaN(d.getTime())) continue;
      const mins = Math.round((d.getTime() - Date.now()) / 60000);
      const abs = Math.abs(mins);
      let rel = abs < 1 ? 'now' : abs < 90 ? `${abs} min` : abs < 2880 ? `${Math.round(abs / 60)} h` : `${Math.round(abs / 1440)} d`;
      if (rel !== 'now') rel = mins > 0 ? `in ${rel}` : `${rel} ago`;
      el.textContent = `${d.toLocaleString()} (${rel})`;
      el.title = d.toISOString();
    }
  }

  /** @param {string} url @param {object} body @returns {Promise<{ ok: boolean, status: number, body: { error?: string } }>} */
  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Darkroom': '1' },
      body: JSON.stringify(body),
    }).then((r) => r.json().catch(() => ({})).then((j) => ({ ok: r.ok, status: r.status, body: j })));
  }

  /** @param {string} url @returns {Promise<unknown>} A page that is logged out reloads (to the login page). */
  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then((r) => {
      if (r.status === 401) {
        location.reload();
        throw new Error('logged out');
      }
      return r.json();
    });
  }

  /** @param {{ page: 'queue', filter: string }} data */
  function queuePage(data) {
    const queueEl = as(byId('queue'), HTMLElement);
    let lastQueue = queueEl.innerHTML;
    const refreshQueue = () =>
      getJson(`/api/queue?view=1&filter=${encodeURIComponent(data.filter)}`)
        .then((reply) => {
          const { html } = /** @type {{ html?: unknown }} */ (reply);
          if (typeof html === 'string' && html !== lastQueue) {
            lastQueue = html;
            queueEl.innerHTML = html;
            localTimes(queueEl);
          }
        })
        .catch(() => {});
    setInterval(refreshQueue, 3000);

    const bulkForm = as(byId('bulk-form'), HTMLFormElement);
    const bulkOut = as(byId('bulk-result'), HTMLElement);
    const button = as(bulkForm.querySelector('button'), HTMLButtonElement);

    /** @param {BulkResult} res */
    function showResult(res) {
      bulkOut.className = '';
      const head = document.createElement('p');
      head.className = `msg ${res.approved ? 'ok' : 'info'}`;
      head.textContent = `${res.dryRun ? `Dry run: ${res.approved} would be approved` : `${res.approved} approved`}, ${res.skipped} skipped (minimum score ${res.minScore}).`;
      bulkOut.appendChild(head);
      if (!res.items.length) return;
      const table = document.createElement('table');
      table.className = 'results';
      const tr = table.insertRow();
      for (const h of ['Brief', 'Top score', 'Result', 'Candidates / reason']) {
        const th = document.createElement('th');
        th.textContent = h;
        tr.appendChild(th);
      }
      for (const it of res.items) {
        const row = table.insertRow();
        const a = document.createElement('a');
        a.href = `/briefs/${encodeURIComponent(it.workflowId)}`;
        a.textContent = it.subject || it.workflowId;
        row.insertCell().appendChild(a);
        row.insertCell().textContent = it.topScore === undefined || it.topScore === null ? '–' : String(Math.round(it.topScore));
        const c = row.insertCell();
        c.textContent = it.result.replace('-', ' ');
        c.className = `r-${it.result}`;
        row.insertCell().textContent = it.candidateIds ? it.candidateIds.join(', ') : it.reason || '';
      }
      bulkOut.appendChild(table);
    }

    bulkForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const dry = as(bulkForm.elements.namedItem('dryRun'), HTMLInputElement).checked;
      button.disabled = true;
      bulkOut.className = 'msg info';
      bulkOut.textContent = dry ? 'Checking…' : 'Approving…';
      const minScore = Number(as(bulkForm.elements.namedItem('minScore'), HTMLInputElement).value);
      post('/api/bulk-approve', { filter: data.filter || undefined, minScore, reviewer: reviewer(), dryRun: dry }).then(
        (r) => {
          button.disabled = false;
          bulkOut.textContent = '';
          if (!r.ok) {
            bulkOut.className = 'msg error';
            bulkOut.textContent = r.body.error || `HTTP ${r.status}`;
            return;
          }
          showResult(/** @type {BulkResult} */ (r.body));
          refreshQueue();
        },
        (e) => {
          button.disabled = false;
          bulkOut.className = 'msg error';
          bulkOut.textContent = String(e);
        },
      );
    });
  }

  /** @param {string} id @param {BriefState} state */
  function briefPage(id, state) {
    const api = `/api/briefs/${encodeURIComponent(id)}`;
    const briefEl = as(byId('brief'), HTMLElement);
    const panel = as(byId('panel'), HTMLElement);
    const msg = as(byId('panel-msg'), HTMLElement);
    const panelState = as(byId('panel-state'), HTMLElement);
    const approveForm = as(byId('approve-form'), HTMLFormElement);
    const reviseForm = as(byId('revise-form'), HTMLFormElement);
    const rejectForm = as(byId('reject-form'), HTMLFormElement);
    let lastHtml = briefEl.innerHTML;
    let busy = false;
    /** @type {number | undefined} */
    let timer;

    const boxes = () => [...briefEl.querySelectorAll('input')].filter((b) => b.name === 'candidate');
    const selected = () => boxes().filter((b) => b.checked).map((b) => b.value);
    /** @param {string} kind @param {string} text */
    function say(kind, text) {
      msg.className = `msg ${kind}`;
      msg.textContent = text;
    }
    function render() {
      const sel = selected();
      as(byId('sel-count'), HTMLElement).textContent = String(sel.length);
      as(byId('sel-max'), HTMLElement).textContent = String(state.maxApprovals);
      panel.classList.toggle('closed', !state.awaiting);
      const tone = state.kind === 'published' ? 'ok' : state.kind === 'rejected' || state.kind === 'failed' ? 'error' : 'info';
      panelState.className = `panel-state msg ${state.awaiting ? '' : tone}`;
      panelState.textContent = state.awaiting ? '' : state.label + (state.done ? '.' : '…');
      as(byId('approve-btn'), HTMLButtonElement).disabled = busy || !state.awaiting || sel.length === 0 || sel.length > state.maxApprovals;
      as(byId('revise-btn'), HTMLButtonElement).disabled = busy || !state.awaiting;
      as(byId('reject-btn'), HTMLButtonElement).disabled = busy || !state.awaiting;
    }
    briefEl.addEventListener('change', (ev) => {
      const t = ev.target;
      if (!(t instanceof HTMLInputElement) || t.name !== 'candidate') return;
      if (t.checked && selected().length > state.maxApprovals) {
        if (state.maxApprovals === 1) {
          for (const b of boxes()) if (b !== t) b.checked = false;
        } else {
          t.checked = false;
          say('error', `This brief ships at most ${state.maxApprovals} images: unselect one first.`);
        }
      }
      render();
    });
    /** @param {string} html */
    function swap(html) {
      if (html === lastHtml) return;
      const keep = selected();
      lastHtml = html;
      briefEl.innerHTML = html;
      for (const b of boxes()) b.checked = keep.indexOf(b.value) >= 0;
      localTimes(briefEl);
    }
    function refresh() {
      return getJson(`${api}?view=1`)
        .then((reply) => {
          const j = /** @type {{ error?: string, html: string, state: BriefState }} */ (reply);
          if (j.error) return;
          state = j.state;
          swap(j.html);
          // The outcome now speaks for itself.
          if (state.done) say('', '');
          render();
          if (state.done && timer) {
            clearInterval(timer);
            timer = undefined;
          }
        })
        .catch(() => {});
    }
    /** @param {object} decision @param {HTMLFormElement} form @param {string} done */
    function send(decision, form, done) {
      busy = true;
      render();
      say('info', 'Sending…');
      post(`${api}/review`, decision).then(
        (r) => {
          busy = false;
          if (r.ok) {
            say('ok', done);
            form.reset();
          } else say('error', r.body.error || `HTTP ${r.status}`);
          refresh();
        },
        (e) => {
          busy = false;
          say('error', String(e));
          render();
        },
      );
    }
    approveForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const ids = selected();
      if (!ids.length) return say('error', 'Select the candidates to approve first.');
      const comment = as(approveForm.elements.namedItem('comment'), HTMLInputElement).value.trim();
      send({ action: 'approve', candidateIds: ids, reviewer: reviewer(), comment: comment || undefined }, approveForm, `Approved ${ids.join(', ')}: formatting and publishing…`);
    });
    /** @param {HTMLFormElement} form @param {string} name @param {string} missing @returns {string | undefined} The trimmed text, or undefined once it said that it is missing. */
    function required(form, name, missing) {
      const box = as(form.elements.namedItem(name), HTMLTextAreaElement);
      const text = box.value.trim();
      if (text) return text;
      say('error', missing);
      box.focus();
      return undefined;
    }
    reviseForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const feedback = required(reviseForm, 'feedback', 'Say what should change: feedback is required.');
      if (!feedback) return;
      const keep = as(reviseForm.elements.namedItem('keep'), HTMLInputElement).checked ? selected() : undefined;
      send({ action: 'requestChanges', feedback, reviewer: reviewer(), keep }, reviseForm, 'Changes requested: a new round is on its way…');
    });
    rejectForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const reason = required(rejectForm, 'reason', 'A reason is required to reject.');
      if (!reason) return;
      send({ action: 'reject', reason, reviewer: reviewer() }, rejectForm, 'Rejected.');
    });
    render();
    if (!state.done) timer = setInterval(refresh, 1500);
  }

  const pageData = byId('page-data');
  // The error page has no data: only the reviewer's name box.
  if (!pageData) return;
  /** @type {PageData} */
  const data = JSON.parse(pageData.textContent || '');
  localTimes(document);
  if (data.page === 'queue') queuePage(data);
  else briefPage(data.workflowId, data.state);
})();
