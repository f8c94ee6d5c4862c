// The live page: every item the receiver accepts arrives as a server-sent event and is put
// at the top of the list. Item values are written as text only, never as markup.
"use strict";

const MAX_SHOWN = 1000; // older items leave the list (the counts keep them)
const FIRST = ["url", "ip", "user_agent", "referrer", "title", "tags", "event_name",
               "event_meta", "event_duration", "time"];

const totals = { hit: 0, event: 0, session: 0 };
const perPath = new Map();
const perEvent = new Map();
const list = document.getElementById("items");
let countsDue = false;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function shown(value) {
  if (value !== null && typeof value === "object") {
    return Object.entries(value).map(([key, v]) => `${key}=${v}`).join(", ");
  }
  return String(value);
}

function pathOf(url) {
  try {
    return new URL(url).pathname;
  } catch (error) {
    return String(url);
  }
}

function increment(map, key) {
  map.set(key, (map.get(key) || 0) + 1);
}

function renderCounts(tableId, map) {
  const body = document.querySelector(`#${tableId} tbody`);
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  body.replaceChildren(...rows.map(([name, count]) => {
    const row = element("tr");
    row.append(element("td", "", name), element("td", "n", String(count)));
    return row;
  }));
}

function renderAll() {
  countsDue = false;
  for (const kind of Object.keys(totals)) {
    document.getElementById(`count-${kind}`).textContent = String(totals[kind]);
  }
  renderCounts("paths", perPath);
  renderCounts("event-names", perEvent);
  document.getElementById("empty").hidden = list.children.length > 0;
}

function scheduleCounts() {
  // A reconnect replays every item; count them all, then draw once.
  if (!countsDue) {
    countsDue = true;
    setTimeout(renderAll, 0);
  }
}

function add(entry) {
  const { kind, item } = entry;
  totals[kind] += 1;
  if (kind === "hit") increment(perPath, pathOf(item.url));
  if (kind === "event") increment(perEvent, item.event_name);

  const node = element("li", `item kind-${kind}`);
  node.dataset.seq = String(entry.seq);
  const head = element("p");
  head.append(element("span", "kind", kind), element("span", "when", item.time || entry.received_at));
  if (kind === "event") head.append(element("b", "", `${item.event_name} `));
  head.append(element("span", "", item.url || `${item.ip} (keep-alive)`));
  const fields = element("dl");
  const names = [...FIRST.filter((name) => name in item),
                 ...Object.keys(item).filter((name) => !FIRST.includes(name)).sort()];
  for (const name of names) {
    fields.append(element("dt", "", name), element("dd", "", shown(item[name])));
  }
  node.append(head, fields);
  list.prepend(node);
  while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  scheduleCounts();
}

function clearAll() {
  for (const kind of Object.keys(totals)) totals[kind] = 0;
  perPath.clear();
  perEvent.clear();
  list.replaceChildren();
  scheduleCounts();
}

function setStatus(state, text) {
  const status = document.getElementById("status");
  status.dataset.state = state;
  status.textContent = text;
}

const source = new EventSource("/devserver/stream");
source.addEventListener("item", (event) => add(JSON.parse(event.data)));
source.addEventListener("clear", clearAll);
source.addEventListener("open", () => setStatus("live", "live"));
source.addEventListener("error", () => setStatus("down", "reconnecting…"));
