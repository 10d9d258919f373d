/**
 * The status page (GET /, its script at GET /status.js): the cluster as this daemon sees it, redrawn
 * every two seconds from GET /v1/overview. Data goes in through textContent only, so nothing a
 * member's answer holds can become markup; the CSP allows this origin's script and nothing else.
 */

export const STATUS_PAGE_CSP =
  "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'";

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hfs-config status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.4em; margin: 0 0 .4em; }
  .badge { display: inline-block; padding: .15em .6em; border-radius: .3em; color: #fff; font-weight: bold; }
  .healthy { background: #2e7d32; } .degraded { background: #ef6c00; } .unavailable { background: #c62828; }
  table { border-collapse: collapse; margin: .5em 0 1.2em; background: #fff; }
  th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; }
  th { background: #eee; }
  td.bad { color: #c62828; font-weight: bold; }
  #reasons li { color: #c62828; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>hfs-config: <span id="node">…</span> <span id="health" class="badge">…</span></h1>
<ul id="reasons"></ul>
<table id="summary">
  <tr><th>generation</th><td id="generation"></td></tr>
  <tr><th>servers (markers)</th><td id="servers"></td></tr>
  <tr><th>mounted</th><td id="mounted"></td></tr>
  <tr><th>tombstones</th><td id="tombstones"></td></tr>
  <tr><th>pending heals</th><td id="heals"></td></tr>
  <tr><th>split-brain</th><td id="splitbrain"></td></tr>
  <tr><th>live daemons</th><td id="alive"></td></tr>
</table>
<h2>Members</h2>
<table id="members">
  <thead><tr><th>name</th><th>address</th><th>answers</th><th>role</th><th>ready</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Locks</h2>
<table id="locks">
  <thead><tr><th>lock</th><th>token</th><th>holder</th><th>since</th><th>waiters</th></tr></thead>
  <tbody></tbody>
</table>
<p class="muted">updated <span id="updated">never</span>; refreshes every 2 s</p>
<script src="/status.js"></script>
</body>
</html>
`;

export const STATUS_PAGE_SCRIPT = `"use strict";
const $ = (id) => document.getElementById(id);
const list = (xs, none) => (xs === null || xs === undefined ? "unknown" : xs.length ? xs.join(", ") : none);
function cell(row, text, bad) {
  const td = document.createElement("td");
  td.textContent = text;
  if (bad) td.className = "bad";
  row.appendChild(td);
}
function draw(o) {
  const s = o.status;
  $("node").textContent = s.name;
  $("health").textContent = o.health.state;
  $("health").className = "badge " + o.health.state;
  $("reasons").replaceChildren(...o.health.reasons.map((r) => {
    const li = document.createElement("li");
    li.textContent = r.kind + ": " + r.detail;
    return li;
  }));
  $("generation").textContent = s.generation === null ? "unknown" : String(s.generation);
  $("servers").textContent = list(s.markers, "none");
  $("mounted").textContent = s.engine === "dir" ? "(dir engine)" : list(s.mounted, "nothing");
  $("tombstones").textContent = list(s.tombstones, "none");
  $("heals").textContent = s.pendingHeals === null ? "unknown" : String(s.pendingHeals);
  const sb = s.discrepancies.filter((d) => d.kind.includes("split-brain"));
  $("splitbrain").textContent = sb.length ? sb.map((d) => d.detail).join("; ") : s.suspectsSplitBrain ? "suspected" : "none";
  $("alive").textContent = list(s.alive, "none seen");
  const body = $("members").tBodies[0];
  body.replaceChildren(...o.members.map((m) => {
    const tr = document.createElement("tr");
    tr.dataset.name = m.name;
    cell(tr, m.name);
    cell(tr, m.address);
    cell(tr, m.answered ? "yes" : "NO", !m.answered);
    cell(tr, m.server === null ? "unknown" : m.retired ? "retired" : m.server ? "server" : "client");
    cell(tr, m.ready === null ? "unknown" : m.ready ? "yes" : "no", m.ready === false);
    return tr;
  }));
  const locks = $("locks").tBodies[0];
  if (o.locks === null) {
    const tr = document.createElement("tr");
    cell(tr, "unknown: not readable here now");
    locks.replaceChildren(tr);
  } else if (o.locks.length === 0) {
    const tr = document.createElement("tr");
    cell(tr, "none");
    locks.replaceChildren(tr);
  } else {
    locks.replaceChildren(...o.locks.map((l) => {
      const tr = document.createElement("tr");
      tr.dataset.lock = l.name;
      cell(tr, l.name);
      cell(tr, String(l.token));
      cell(tr, l.holder ? l.holder.node + " pid " + l.holder.pid : "-");
      cell(tr, l.holder ? new Date(l.holder.since).toISOString() : "-");
      cell(tr, l.waiters.length ? l.waiters.map((w) => w.node + " pid " + w.pid).join(", ") : "-");
      return tr;
    }));
  }
  $("updated").textContent = new Date(o.at).toISOString();
}
async function refresh() {
  try {
    const res = await fetch("/v1/overview", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    draw(await res.json());
  } catch (err) {
    $("health").textContent = "unavailable";
    $("health").className = "badge unavailable";
    const li = document.createElement("li");
    li.textContent = "daemon-unreachable: this node's daemon does not answer (" + err.message + ")";
    $("reasons").replaceChildren(li);
  }
}
refresh();
setInterval(refresh, 2000);
`;
