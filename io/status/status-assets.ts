/**
 * The status page: a static HTML shell, its script and its style, served
 * as separate files so the page runs under a CSP without 'unsafe-inline'.
 * The shell holds no data: the script asks the operator for the status
 * token (kept in sessionStorage, never in the URL), then polls
 * /status/snapshot.json once a second with it and redraws.
 */

export const statusHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sigplane status</title>
<link rel="stylesheet" href="/status/app.css">
<script src="/status/app.js" defer></script>
</head>
<body>
<header><h1>sigplane</h1><span id="connection">not connected</span></header>
<form id="login" hidden>
  <label>Status token <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Show status</button>
  <p id="login-error" role="alert"></p>
</form>
<main id="board" hidden>
  <section class="tiles">
    <div><h2>Signals accepted</h2><output id="signals-accepted">0</output><small id="signals-rate"></small></div>
    <div><h2>Deliveries</h2><output id="deliveries">0</output><small id="deliveries-rate"></small></div>
    <div><h2>Duplicates</h2><output id="duplicates">0</output></div>
    <div><h2>Masters / receivers</h2><output id="peers">0 / 0</output></div>
    <div><h2>Rate limits</h2><output id="rate-limit-source"></output></div>
  </section>
  <section>
    <h2>Latency (ms)</h2>
    <table id="latency"><thead><tr><th>path</th><th>count</th><th>p50</th><th>p90</th><th>p99</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Subscriptions</h2>
    <table id="subscriptions"><thead><tr><th>subscription</th><th>state</th><th>masters</th><th>receivers (live)</th><th>accepted</th><th>signals/s</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Rejects by code</h2>
    <table id="rejects"><thead><tr><th>code</th><th>count</th></tr></thead><tbody></tbody></table>
  </section>
  <p>Updated <time id="generated-at"></time></p>
</main>
</body>
</html>
`;

export const statusCss = `body{font:14px system-ui,sans-serif;margin:1rem 2rem;color:#222}
header{display:flex;gap:1rem;align-items:baseline}#connection{color:#888}
.tiles{display:flex;flex-wrap:wrap;gap:1rem}.tiles div{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;min-width:9rem}
.tiles h2{font-size:.8rem;color:#666;margin:0}.tiles output{font-size:1.6rem;display:block}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:.2rem .6rem;text-align:left}
td.ACTIVE{color:#070}td.DEGRADED,td.SYNCING{color:#a60}td.ISOLATED{color:#b00}
`;

export const statusJs = `'use strict';
(() => {
  const pollMs = 1000;
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (n === null || n === undefined ? '-' : String(n));
  const rate = (n) => (n > 0 ? n.toFixed(1) + '/s' : '');
  function rows(tbody, items) {
    tbody.replaceChildren(...items.map((cells) => {
      const tr = document.createElement('tr');
      for (const c of cells) {
        const td = document.createElement('td');
        const cell = c !== null && typeof c === 'object' ? c : { text: c };
        td.textContent = fmt(cell.text);
        if (cell.cls) td.className = cell.cls;
        tr.append(td);
      }
      return tr;
    }));
  }
  function draw(s) {
    $('signals-accepted').textContent = fmt(s.totals.signalsAccepted);
    $('signals-rate').textContent = rate(s.rates.signalsPerSecond);
    $('deliveries').textContent = fmt(s.totals.deliveries);
    $('deliveries-rate').textContent = rate(s.rates.deliveriesPerSecond);
    $('duplicates').textContent = fmt(s.totals.duplicates);
    $('peers').textContent = s.totals.masters + ' / ' + s.totals.receivers;
    $('rate-limit-source').textContent = s.rateLimitSource;
    const lat = s.latencyMs;
    rows($('latency').tBodies[0], [
      ['ingest to ack', lat.ingestToAck.count, lat.ingestToAck.p50, lat.ingestToAck.p90, lat.ingestToAck.p99],
      ['ingest to delivery', lat.ingestToDelivery.count, lat.ingestToDelivery.p50, lat.ingestToDelivery.p90, lat.ingestToDelivery.p99],
    ]);
    rows($('subscriptions').tBodies[0], s.subscriptions.map((x) => [
      x.subscriptionId, { text: x.state, cls: x.state }, x.masters, x.receivers + ' (' + x.liveReceivers + ')', x.signalsAccepted, x.signalsPerSecond.toFixed(1),
    ]));
    rows($('rejects').tBodies[0], Object.entries(s.rejectsByCode).sort((a, b) => b[1] - a[1]));
    $('generated-at').textContent = s.generatedAt;
  }
  function showLogin(message) {
    $('board').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('connection').textContent = 'not connected';
  }
  let timer = null;
  async function poll() {
    const token = sessionStorage.getItem('sigplaneStatusToken');
    if (!token) return showLogin('');
    try {
      const res = await fetch('/status/snapshot.json', { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem('sigplaneStatusToken');
        return showLogin('That token was refused.');
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      draw(await res.json());
      $('login').hidden = true;
      $('board').hidden = false;
      $('connection').textContent = 'live';
    } catch (e) {
      $('connection').textContent = 'reconnecting (' + e.message + ')';
    }
    timer = setTimeout(poll, pollMs);
  }
  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem('sigplaneStatusToken', $('token').value);
      $('token').value = '';
      clearTimeout(timer);
      void poll();
    });
    void poll();
  });
})();
`;
