/**
 * The reviewer tool's stylesheet and its one script, inlined into each page (with the
 * response's CSP nonce). The script is plain ES2017 in a string: no build step, and no
 * template-literal interpolation from this file reaches it.
 */

export const STYLE = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1b2230;--muted:#667085;--line:#e3e6ec;--accent:#2f5bd3;--accent-ink:#fff;
--ok:#137a55;--ok-bg:#e7f6ef;--warn:#a15c07;--warn-bg:#fff5e5;--bad:#b42318;--bad-bg:#fdecea;--info-bg:#eef3ff;
--radius:12px;--shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08)}
*{box-sizing:border-box}
html{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f4;border-radius:5px;padding:1px 5px}
h1{font-size:22px;line-height:1.3;margin:0}h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}
.muted{color:var(--muted)}.warn{color:var(--warn)}
.top{display:flex;align-items:center;justify-content:space-between;gap:16px;padding:12px 28px;background:#141925;color:#fff}
.brand{color:#fff;font-weight:650;font-size:16px;display:flex;align-items:center;gap:10px}.brand:hover{text-decoration:none}.brand .muted{color:#9aa4b8;font-weight:500}
.logo{width:18px;height:18px;border-radius:50%;background:radial-gradient(circle at 35% 35%,#ffd36b,#f08c2b 45%,#3a2b1a 75%)}
.who{font-size:13px;color:#c7cede;display:flex;align-items:center;gap:8px;white-space:nowrap}
.who input{background:#232a3a;border:1px solid #39425a;color:#fff;border-radius:8px;padding:5px 9px;width:160px;font:inherit}
main{max-width:1280px;margin:0 auto;padding:24px 28px 80px}main.narrow{max-width:620px;padding-top:60px}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);box-shadow:var(--shadow)}
.center{padding:28px;text-align:center}.center p{color:var(--muted)}
.back{display:inline-block;margin-bottom:14px;font-size:13px}
input,textarea,button{font:inherit}
input[type=number],input:not([type]),textarea{border:1px solid #cfd4dc;border-radius:8px;padding:7px 10px;background:#fff;color:var(--ink);width:100%}
textarea{resize:vertical}
input:focus,textarea:focus,button:focus-visible{outline:2px solid rgba(47,91,211,.35);outline-offset:1px}
button{border:1px solid #cfd4dc;background:#fff;color:var(--ink);border-radius:8px;padding:7px 14px;cursor:pointer;font-weight:550}
button:hover:not(:disabled){background:#f2f4f7}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-ink)}button.primary:hover:not(:disabled){background:#2549b0}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}button.danger:hover:not(:disabled){background:#912018}
button:disabled{opacity:.45;cursor:not-allowed}
.check{display:flex;align-items:center;gap:8px;font-size:13.5px}.check input{width:auto;margin:0}
.msg{font-size:13.5px;border-radius:8px}.msg:empty{display:none}
.msg.error{background:var(--bad-bg);color:var(--bad);padding:9px 12px;border:1px solid #f5c2bc}
.msg.ok{background:var(--ok-bg);color:var(--ok);padding:9px 12px;border:1px solid #b7e3cf}
.msg.info{background:var(--info-bg);color:#233e8b;padding:9px 12px}
.page-head{display:flex;align-items:center;justify-content:space-between;gap:20px;margin-bottom:18px;flex-wrap:wrap}
.filter{display:flex;gap:8px;align-items:center;flex:1;max-width:560px}.filter input{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}.clear{font-size:13px}
.count{color:var(--muted);margin:0 0 10px;font-size:13.5px}
.queue{list-style:none;margin:0;padding:0;display:grid;gap:10px}
.qrow{display:flex;align-items:center;gap:16px;padding:12px 16px;color:inherit;transition:border-color .15s}.qrow:hover{border-color:#b9c3d8;text-decoration:none}
.qthumb{width:96px;height:64px;border-radius:8px;overflow:hidden;background:#e9ecf1;flex:none}.qthumb img{width:100%;height:100%;object-fit:cover;display:block}
.qmain{flex:1;min-width:0}.qsubject{font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.qid{font-size:12.5px;margin:2px 0 4px}.qfacts{font-size:13px;color:var(--muted);display:flex;flex-wrap:wrap;align-items:center;gap:4px}
.dot{margin:0 4px;color:#b5bcc9}.go{color:var(--accent);font-weight:600;white-space:nowrap}
.score{display:inline-flex;align-items:center;justify-content:center;min-width:34px;height:24px;padding:0 7px;border-radius:12px;font-weight:700;font-size:13px;background:#eef0f4;color:var(--ink)}
.score.hi{background:var(--ok-bg);color:var(--ok)}.score.mid{background:var(--warn-bg);color:var(--warn)}.score.lo{background:var(--bad-bg);color:var(--bad)}
.empty-state{padding:40px;text-align:center;border:1px dashed #cfd4dc;border-radius:var(--radius);background:#fafbfc}.empty-state p{margin:4px 0}
.bulk{margin-top:28px;padding:18px 20px}.bulk p{margin:0 0 12px;font-size:13.5px}
#bulk-form{display:flex;align-items:center;gap:16px;flex-wrap:wrap}#bulk-form label:first-child{display:flex;align-items:center;gap:8px;font-size:13.5px}#bulk-form input[type=number]{width:80px}
.results{width:100%;border-collapse:collapse;margin-top:14px;font-size:13px}.results th,.results td{text-align:left;padding:6px 8px;border-top:1px solid var(--line);vertical-align:top}.results th{color:var(--muted);font-weight:600}
.r-approved,.r-would-approve{color:var(--ok);font-weight:600}.r-skipped{color:var(--muted)}
.brief-layout{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:24px;align-items:start}
@media (max-width:900px){.brief-layout{grid-template-columns:1fr}}
.brief-head{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;margin-bottom:14px}.sub{font-size:13px;margin-top:4px}
.pill{flex:none;border-radius:999px;padding:4px 12px;font-size:13px;font-weight:600;background:#eef0f4}
.pill.awaiting{background:var(--info-bg);color:var(--accent)}.pill.working{background:var(--warn-bg);color:var(--warn)}
.pill.published{background:var(--ok-bg);color:var(--ok)}.pill.rejected,.pill.failed{background:var(--bad-bg);color:var(--bad)}
.facts{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 14px}.facts div{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:7px 12px}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}.facts dd{margin:0;font-weight:600;font-size:14px}
.prompt{padding:12px 16px;margin-bottom:20px}.prompt h2{font-size:14px;margin:0;display:flex;align-items:center;gap:8px}.prompt p{margin:6px 0 0;color:#394150;font-size:13.5px}
.round{margin:0 0 24px}.round h2{display:flex;align-items:center;gap:8px}.asked{margin:-4px 0 12px;font-size:13.5px;color:#394150;background:#fff;border-left:3px solid var(--accent);padding:6px 10px;border-radius:0 8px 8px 0}
.round:not(.current) .cand{opacity:.8}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px}
.cand{display:flex;flex-direction:column;background:var(--card);border:2px solid var(--line);border-radius:var(--radius);overflow:hidden;box-shadow:var(--shadow);transition:border-color .12s,box-shadow .12s}
.cand.selectable{cursor:pointer}.cand.selectable:hover{border-color:#aebbd9}
.cand.suggested{border-color:#c9d6f5}
.cand:has(input:checked){border-color:var(--accent);box-shadow:0 0 0 3px rgba(47,91,211,.18)}
.cand.approved{border-color:var(--ok)}
.thumb{background:repeating-conic-gradient(#eceff3 0 25%,#f7f8fa 0 50%) 0 0/16px 16px;aspect-ratio:4/3;display:flex;align-items:center;justify-content:center;overflow:hidden}
.thumb img{max-width:100%;max-height:100%;height:auto;object-fit:contain;display:block}
.cbody{padding:10px 12px 12px;font-size:13px}
.ctop{display:flex;align-items:center;gap:8px}.ctop input{width:18px;height:18px;margin:0;accent-color:var(--accent)}.cid{font-weight:650;font-family:ui-monospace,Menlo,Consolas,monospace;flex:1}
.cmeta{color:var(--muted);margin-top:4px;font-size:12.5px}
.badges{margin-top:6px;display:flex;gap:6px;flex-wrap:wrap}
.badge{font-size:11.5px;font-weight:650;border-radius:6px;padding:2px 7px;background:#eef0f4}
.badge.pick{background:#fff3d6;color:#8a5a00}.badge.ok{background:var(--ok-bg);color:var(--ok)}.badge.now{background:var(--info-bg);color:var(--accent)}
.reasons{margin:8px 0 0;padding-left:18px;color:#394150}.reasons li{margin:2px 0}
.ghost .thumb{background:linear-gradient(90deg,#eceff3,#f6f7f9,#eceff3);background-size:200% 100%;animation:shimmer 1.2s infinite linear}
.bar{height:10px;background:#eceff3;border-radius:5px;margin:6px 0}.bar.short{width:60%}
@keyframes shimmer{from{background-position:200% 0}to{background-position:-200% 0}}
.banner{border-radius:var(--radius);padding:14px 18px;margin-bottom:16px;border:1px solid}
.banner h2{margin:0;display:flex;align-items:center;gap:10px}.banner p{margin:6px 0 0;font-size:13.5px}
.banner.ok{background:var(--ok-bg);border-color:#b7e3cf;color:#0b4f37}.banner.bad{background:var(--bad-bg);border-color:#f5c2bc;color:#7a1a11}
.banner.warn{background:var(--warn-bg);border-color:#f3d7a6}.banner.info{background:var(--info-bg);border-color:#cbd7f7;color:#233e8b}
.assets{margin:8px 0 0;padding-left:0;list-style:none;font-size:13.5px}.assets li{margin:3px 0}.ch{display:inline-block;min-width:130px;font-weight:600}
.failure{white-space:pre-wrap;font-size:12.5px;margin:8px 0 0}
.spinner{width:14px;height:14px;border:2px solid currentColor;border-right-color:transparent;border-radius:50%;animation:spin .8s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
.decisions{padding:16px 18px}.audit{margin:0;padding-left:20px;font-size:13.5px}.audit li{margin:4px 0}
.panel{position:sticky;top:16px;padding:16px 18px;display:flex;flex-direction:column;gap:12px}
.panel h2{margin:0}.selcount{margin:0;font-size:13.5px;color:var(--muted)}.selcount strong{color:var(--ink)}
.panel-state{font-size:13.5px}.panel-state:empty{display:none}
.decide{display:flex;flex-direction:column;gap:8px}.decide button{width:100%}
.decide-more{border-top:1px solid var(--line);padding-top:10px}.decide-more summary{cursor:pointer;font-weight:600;font-size:14px;margin-bottom:8px}
.panel.closed form,.panel.closed details,.panel.closed .selcount{display:none}
`;

/** Behaviour of both pages: reviewer name, local times, polling, decisions, bulk approve. */
export const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var REVIEWER_KEY = 'darkroom.reviewer';
  var whoInput = document.getElementById('reviewer');
  if (whoInput) {
    whoInput.value = localStorage.getItem(REVIEWER_KEY) || '';
    whoInput.addEventListener('change', function () { localStorage.setItem(REVIEWER_KEY, whoInput.value.trim()); });
  }
  function reviewer() {
    var v = whoInput ? whoInput.value.trim() : '';
    if (v) localStorage.setItem(REVIEWER_KEY, v);
    return v || localStorage.getItem(REVIEWER_KEY) || 'reviewer';
  }
  function localTimes(root) {
    var els = root.querySelectorAll('time[datetime]');
    for (var i = 0; i < els.length; i++) {
      var d = new Date(els[i].getAttribute('datetime'));
      if (isNaN(d.getTime())) continue;
      var mins = Math.round((d.getTime() - Date.now()) / 60000);
      var abs = Math.abs(mins);
      var rel = abs < 1 ? 'now' : abs < 90 ? abs + ' min' : abs < 2880 ? Math.round(abs / 60) + ' h' : Math.round(abs / 1440) + ' d';
      if (rel !== 'now') rel = mins > 0 ? 'in ' + rel : rel + ' ago';
      els[i].textContent = d.toLocaleString() + ' (' + rel + ')';
      els[i].title = d.toISOString();
    }
  }
  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Darkroom': '1' },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
    });
  }
  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      if (r.status === 401) { location.reload(); throw new Error('logged out'); }
      return r.json();
    });
  }
  var data = JSON.parse(document.getElementById('page-data').textContent);
  localTimes(document);

  if (data.page === 'queue') {
    var queueEl = document.getElementById('queue');
    var lastQueue = queueEl.innerHTML;
    var refreshQueue = function () {
      return getJson('/api/queue?view=1&filter=' + encodeURIComponent(data.filter)).then(function (j) {
        if (typeof j.html === 'string' && j.html !== lastQueue) { lastQueue = j.html; queueEl.innerHTML = j.html; localTimes(queueEl); }
      }).catch(function () {});
    };
    setInterval(refreshQueue, 3000);
    var bulkForm = document.getElementById('bulk-form');
    var bulkOut = document.getElementById('bulk-result');
    bulkForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var button = bulkForm.querySelector('button');
      var dry = bulkForm.elements.dryRun.checked;
      button.disabled = true;
      bulkOut.className = 'msg info';
      bulkOut.textContent = dry ? 'Checking…' : 'Approving…';
      post('/api/bulk-approve', { filter: data.filter || undefined, minScore: Number(bulkForm.elements.minScore.value), reviewer: reviewer(), dryRun: dry }).then(function (r) {
        button.disabled = false;
        bulkOut.textContent = '';
        if (!r.ok) { bulkOut.className = 'msg error'; bulkOut.textContent = r.body.error || ('HTTP ' + r.status); return; }
        bulkOut.className = '';
        var res = r.body;
        var head = document.createElement('p');
        head.className = 'msg ' + (res.approved ? 'ok' : 'info');
        head.textContent = (res.dryRun ? 'Dry run: ' + res.approved + ' would be approved' : res.approved + ' approved') + ', ' + res.skipped + ' skipped (minimum score ' + res.minScore + ').';
        bulkOut.appendChild(head);
        if (res.items.length) {
          var table = document.createElement('table');
          table.className = 'results';
          var tr = table.insertRow();
          ['Brief', 'Top score', 'Result', 'Candidates / reason'].forEach(function (h) { var th = document.createElement('th'); th.textContent = h; tr.appendChild(th); });
          res.items.forEach(function (it) {
            var row = table.insertRow();
            var a = document.createElement('a');
            a.href = '/briefs/' + encodeURIComponent(it.workflowId);
            a.textContent = it.subject || it.workflowId;
            row.insertCell().appendChild(a);
            row.insertCell().textContent = it.topScore === undefined || it.topScore === null ? '–' : String(Math.round(it.topScore));
            var c = row.insertCell(); c.textContent = it.result.replace('-', ' '); c.className = 'r-' + it.result;
            row.insertCell().textContent = it.candidateIds ? it.candidateIds.join(', ') : (it.reason || '');
          });
          bulkOut.appendChild(table);
        }
        refreshQueue();
      }, function (e) { button.disabled = false; bulkOut.className = 'msg error'; bulkOut.textContent = String(e); });
    });
    return;
  }

  // ── brief page ──
  var id = data.workflowId;
  var api = '/api/briefs/' + encodeURIComponent(id);
  var state = data.state;
  var briefEl = document.getElementById('brief');
  var panel = document.getElementById('panel');
  var msg = document.getElementById('panel-msg');
  var panelState = document.getElementById('panel-state');
  var approveForm = document.getElementById('approve-form');
  var reviseForm = document.getElementById('revise-form');
  var rejectForm = document.getElementById('reject-form');
  var lastHtml = briefEl.innerHTML;
  var busy = false;
  var timer;

  function boxes() { return briefEl.querySelectorAll('input[name=candidate]'); }
  function selected() {
    var out = [];
    var b = boxes();
    for (var i = 0; i < b.length; i++) if (b[i].checked) out.push(b[i].value);
    return out;
  }
  function say(kind, text) { msg.className = 'msg ' + kind; msg.textContent = text; }
  function render() {
    var sel = selected();
    document.getElementById('sel-count').textContent = String(sel.length);
    document.getElementById('sel-max').textContent = String(state.maxApprovals);
    panel.classList.toggle('closed', !state.awaiting);
    panelState.className = 'panel-state msg ' + (state.awaiting ? '' : (state.kind === 'published' ? 'ok' : state.kind === 'rejected' || state.kind === 'failed' ? 'error' : 'info'));
    panelState.textContent = state.awaiting ? '' : state.label + (state.done ? '.' : '…');
    document.getElementById('approve-btn').disabled = busy || !state.awaiting || sel.length === 0 || sel.length > state.maxApprovals;
    document.getElementById('revise-btn').disabled = busy || !state.awaiting;
    document.getElementById('reject-btn').disabled = busy || !state.awaiting;
  }
  briefEl.addEventListener('change', function (ev) {
    var t = ev.target;
    if (!t || t.name !== 'candidate') return;
    if (t.checked && selected().length > state.maxApprovals) {
      if (state.maxApprovals === 1) {
        var b = boxes();
        for (var i = 0; i < b.length; i++) if (b[i] !== t) b[i].checked = false;
      } else {
        t.checked = false;
        say('error', 'This brief ships at most ' + state.maxApprovals + ' images: unselect one first.');
      }
    }
    render();
  });
  function swap(html) {
    if (html === lastHtml) return;
    var keep = selected();
    lastHtml = html;
    briefEl.innerHTML = html;
    var b = boxes();
    for (var i = 0; i < b.length; i++) b[i].checked = keep.indexOf(b[i].value) >= 0;
    localTimes(briefEl);
  }
  function refresh() {
    return getJson(api + '?view=1').then(function (j) {
      if (j.error) return;
      state = j.state;
      swap(j.html);
      // The outcome now speaks for itself.
      if (state.done) say('', '');
      render();
      if (state.done && timer) { clearInterval(timer); timer = undefined; }
    }).catch(function () {});
  }
  function send(decision, form, done) {
    busy = true;
    render();
    say('info', 'Sending…');
    post(api + '/review', decision).then(function (r) {
      busy = false;
      if (r.ok) { say('ok', done); if (form) form.reset(); }
      else say('error', r.body.error || ('HTTP ' + r.status));
      refresh();
    }, function (e) { busy = false; say('error', String(e)); render(); });
  }
  approveForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var ids = selected();
    if (!ids.length) { say('error', 'Select the candidates to approve first.'); return; }
    var comment = approveForm.elements.comment.value.trim();
    var d = { action: 'approve', candidateIds: ids, reviewer: reviewer() };
    if (comment) d.comment = comment;
    send(d, approveForm, 'Approved ' + ids.join(', ') + ': formatting and publishing…');
  });
  reviseForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var feedback = reviseForm.elements.feedback.value.trim();
    if (!feedback) { say('error', 'Say what should change: feedback is required.'); reviseForm.elements.feedback.focus(); return; }
    var d = { action: 'requestChanges', feedback: feedback, reviewer: reviewer() };
    if (reviseForm.elements.keep.checked) d.keep = selected();
    send(d, reviseForm, 'Changes requested: a new round is on its way…');
  });
  rejectForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var reason = rejectForm.elements.reason.value.trim();
    if (!reason) { say('error', 'A reason is required to reject.'); rejectForm.elements.reason.focus(); return; }
    send({ action: 'reject', reason: reason, reviewer: reviewer() }, rejectForm, 'Rejected.');
  });
  render();
  if (!state.done) timer = setInterval(refresh, 1500);
})();
`;
