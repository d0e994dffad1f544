/**
 * The live dashboard: one HTML page with its CSS and a small script, no build step. It opens
 * `GET /events` (server-sent events) and redraws members, leader, unreachable nodes, shards per
 * node and message rates from each snapshot.
 *
 * @module
 */

/**
 * The dashboard page.
 *
 * @param title The page title (the system name).
 * @returns The HTML.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardHtml } from "./dashboard.ts";
 * assert.match(dashboardHtml("bank"), /<title>casty · bank<\/title>/);
 * ```
 */
export function dashboardHtml(title: string): string {
  const safe = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>casty · ${safe}</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --line: #8884; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 70rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid var(--line); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .status-Up { color: var(--ok); } .status-Down, .status-Removed, .unreachable { color: var(--bad); }
  .status-Joining, .status-Leaving, .status-Exiting { color: var(--warn); }
  #conn { font-size: .85rem; opacity: .7; }
  #conn.lost { color: var(--bad); opacity: 1; }
  code { font-size: .95em; }
</style>
</head>
<body>
<h1>casty · ${safe}</h1>
<div id="conn">connecting…</div>
<p>leader: <code id="leader">–</code> · seen from <code id="self">–</code> ·
unreachable: <span id="unreachable">none</span></p>
<h2>Members</h2>
<table><thead><tr><th>address</th><th>status</th><th>reachable</th><th>roles</th><th>up since</th></tr></thead>
<tbody id="members"></tbody></table>
<h2>Shards per node</h2>
<table><thead id="shards-head"></thead><tbody id="shards"></tbody></table>
<h2>Load</h2>
<table><thead><tr><th>node</th><th class="num">msg/s</th><th class="num">dead letters/s</th>
<th class="num">queued</th><th class="num">actors</th><th class="num">entities</th></tr></thead>
<tbody id="load"></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
function row(cells, attrs) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(c);
  for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
  return tr;
}
function render(s) {
  const m = s.members;
  $("leader").textContent = m.leader || "none";
  $("self").textContent = m.selfNode;
  $("unreachable").textContent = m.unreachable.length ? m.unreachable.map((u) => u.node).join(", ") : "none";
  $("unreachable").className = m.unreachable.length ? "unreachable" : "";
  $("members").replaceChildren(...m.members.map((x) => row([
    cell(x.node + (x.node === m.leader ? " (leader)" : "")),
    cell(x.status, "status-" + x.status),
    cell(x.reachable ? "yes" : "unreachable", x.reachable ? "" : "unreachable"),
    cell(x.roles.join(", ")),
    cell(x.upSince ? new Date(x.upSince).toLocaleString() : ""),
  ], { "data-node": x.node, "data-status": x.status, "data-reachable": String(x.reachable) })));
  const types = [...new Set(Object.values(s.shardsPerNode).flatMap((r) => Object.keys(r)))].sort();
  const nodes = [...new Set([...m.members.map((x) => x.node), ...Object.keys(s.shardsPerNode)])].sort();
  $("shards-head").replaceChildren(row([cell("node"), ...types.map((t) => cell(t, "num"))]));
  $("shards").replaceChildren(...(types.length === 0 ? [row([cell("no sharded types")])] :
    nodes.map((n) => row([cell(n), ...types.map((t) => cell(String((s.shardsPerNode[n] || {})[t] || 0), "num"))],
      { "data-node": n }))));
  $("load").replaceChildren(...Object.values(s.nodes).sort((a, b) => a.node < b.node ? -1 : 1).map((n) => row([
    cell(n.node), cell(String(n.messagesPerSecond), "num"), cell(String(n.deadLettersPerSecond), "num"),
    cell(String(n.queued), "num"), cell(String(n.actors), "num"),
    cell(String(Object.values(n.entities).reduce((a, b) => a + b, 0)), "num"),
  ], { "data-node": n.node })));
}
let updates = 0;
const events = new EventSource("events");
events.addEventListener("snapshot", (e) => {
  updates++;
  $("conn").textContent = "live · " + new Date().toLocaleTimeString();
  $("conn").className = "";
  document.body.dataset.updates = String(updates);
  render(JSON.parse(e.data));
});
events.onerror = () => { $("conn").textContent = "connection lost, retrying…"; $("conn").className = "lost"; };
</script>
</body>
</html>
`;
}
