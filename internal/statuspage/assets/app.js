// Inlet status page: polls /api/status (and the page's own endpoint) and
// draws the pipeline graph as SVG. No dependencies, no network beyond
// this server.
"use strict";
(function () {
  var SVGNS = "http://www.w3.org/2000/svg";
  var ORDER = { failing: 0, lagging: 1, stale: 2, ok: 3 };
  var KIND = {
    postgres_table: "Postgres table", http_stream: "HTTP stream", kafka_topic: "Kafka topic",
    lake_table: "Lake table", clickhouse_mirror: "ClickHouse mirror", clickhouse_view: "ClickHouse view",
    clickhouse_summary: "Summary"
  };
  var COLUMNS = ["Sources", "Kafka topics", "Lake · ClickHouse", "Views", "Summaries"];
  var G = { colW: 250, nodeW: 214, nodeH: 58, rowH: 72, top: 36, left: 14 };

  var route = location.pathname;
  var query = new URLSearchParams(location.search);
  var selected = query.get("node");
  var last = null;

  // el builds an HTML element: el("div", {class: "x"}, child, "text", ...).
  function el(tag, attrs) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "onclick") e.addEventListener("click", v);
      else e.setAttribute(k, v);
    });
  }
  function append(e, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(e, x); }); return; }
    e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function replace(target, node) {
    target.textContent = "";
    append(target, node);
  }

  function isSet(t) { return t && Date.parse(t) > 86400000; }
  function ago(t) {
    if (!isSet(t)) return "–";
    var s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
    if (s < 1) return "just now";
    if (s < 90) return Math.round(s) + "s ago";
    if (s < 5400) return Math.round(s / 60) + "m ago";
    if (s < 129600) return Math.round(s / 3600) + "h ago";
    return Math.round(s / 86400) + "d ago";
  }
  function when(t) { return isSet(t) ? new Date(t).toLocaleString() + " (" + ago(t) + ")" : "–"; }
  function num(n) { return n === undefined || n === null ? "–" : Number(n).toLocaleString(); }
  function secs(s) { return s < 10 ? s.toFixed(1) + "s" : Math.round(s) + "s"; }
  function pill(health, text) { return el("span", { class: "pill h-" + health }, text || health); }
  function short(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

  function getJSON(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
        return body;
      });
    });
  }
  function banner(msg) {
    var b = document.getElementById("banner");
    b.hidden = !msg;
    b.textContent = msg || "";
  }
  // poll calls fn now and every ms, never two at once.
  function poll(fn, ms) {
    var busy = false;
    function tick() {
      if (busy) return;
      busy = true;
      fn().then(function () { banner(null); }, function (e) {
        banner("Cannot read the pipeline's status: " + e.message + " (retrying)");
      }).then(function () { busy = false; });
    }
    tick();
    setInterval(tick, ms);
  }

  // sinkWord is a sink's state in one word or two, as its health says.
  function sinkWord(s) {
    if (s.state !== "retrying" && s.state !== "failed") {
      if (/ sink stalled/.test(s.reason || "")) return "stalled";
      if ((s.quarantined || []).length) return "quarantined";
    }
    return s.state.replace("_", " ");
  }

  // Header: pipelines, their sinks, open incidents.
  function renderHeader(st) {
    var open = 0;
    var cards = st.pipelines.map(function (p) {
      open += p.open_incidents;
      return el("div", { class: "pipe", "data-pipeline": p.name },
        el("h2", null, p.name, p.running ? pill("ok", "running") : pill("stale", "not running")),
        p.running ? null : el("div", { class: "muted" }, p.reason),
        el("div", { class: "sinks" }, (p.sinks || []).map(function (s) {
          var txt = s.sink + ": " + sinkWord(s) +
            " · lag " + num(s.lag_records) + " rec / " + secs(s.lag_seconds);
          return el("span", { class: "pill h-" + s.health, "data-sink": s.sink, title: s.reason || s.last_error || "" }, txt);
        })),
        p.open_incidents ? el("div", null, el("a", { href: "/incidents" }, p.open_incidents + " open incident" + (p.open_incidents > 1 ? "s" : ""))) : null);
    });
    replace(document.getElementById("pipelines"), cards);
    document.getElementById("open-count").textContent = open ? String(open) : "";
    // Escalation: incidents open longer than incidents.escalate_after.
    var esc = [];
    st.pipelines.forEach(function (p) {
      (p.escalated || []).forEach(function (i) { esc.push({ p: p, i: i }); });
    });
    var eb = document.getElementById("escalation");
    eb.hidden = esc.length === 0;
    replace(eb, esc.length ? [
      "Escalated: " + esc.length + " incident" + (esc.length > 1 ? "s" : "") + " open longer than " + esc[0].p.escalate_after + " ",
      el("a", { href: "/incidents" }, "see incidents →"),
      el("ul", null, esc.map(function (x) {
        return el("li", { "data-subject": x.i.subject }, x.p.name + ": " + x.i.msg.replace(/^incident: /, "") + (x.i.error ? " — " + short(x.i.error, 120) : "") + " (open since " + ago(x.i.start) + ")");
      }))] : []);
    document.getElementById("updated").textContent = "updated " + new Date(st.now).toLocaleTimeString();
  }

  function legend(st) {
    return el("div", { class: "legend" }, ["ok", "lagging", "failing", "stale"].map(function (h) {
      return pill(h, h + " " + (st.counts[h] || 0));
    }), el("span", { class: "muted" }, "click a node for details"));
  }

  function nodeSub(n) {
    var parts = [n.health];
    if (n.progress && !/^snapshot done/.test(n.progress)) parts.push(n.progress);
    if (n.rows !== undefined) parts.push(num(n.rows) + " rows");
    if (n.last_hour !== undefined) parts.push(num(n.last_hour) + "/h");
    if (n.sink && n.lag_seconds > 0.05) parts.push("lag " + secs(n.lag_seconds));
    else if (isSet(n.freshness)) parts.push(ago(n.freshness));
    return parts.join(" · ");
  }

  function drawGraph(st) {
    var cols = 0, rows = 0, pos = {};
    st.nodes.forEach(function (n) {
      cols = Math.max(cols, n.col + 1);
      rows = Math.max(rows, n.row + 1);
      pos[n.id] = { x: G.left + n.col * G.colW, y: G.top + n.row * G.rowH, n: n };
    });
    var w = G.left * 2 + Math.max(cols, 1) * G.colW - (G.colW - G.nodeW);
    var h = G.top + rows * G.rowH + 4;
    // The graph shrinks to fit its box down to 60% of its size, then the box
    // scrolls (a phone).
    var svg = sv("svg", {
      class: "graph", viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": "pipeline graph",
      style: "width: 100%; max-width: " + w + "px; min-width: " + Math.round(w * 0.6) + "px; height: auto"
    });
    for (var c = 0; c < cols; c++) svg.appendChild(sv("text", { class: "colhead", x: G.left + c * G.colW, y: 20 }, COLUMNS[c] || ""));
    st.edges.forEach(function (e) {
      var a = pos[e.from], b = pos[e.to];
      if (!a || !b) return;
      var x1 = a.x + G.nodeW, y1 = a.y + G.nodeH / 2, x2 = b.x, y2 = b.y + G.nodeH / 2;
      if (b.x <= a.x) { x1 = a.x + G.nodeW / 2; y1 = a.y + G.nodeH; x2 = b.x + G.nodeW / 2; y2 = b.y; }
      var dx = Math.max(30, (x2 - x1) / 2);
      var d = b.x <= a.x ? "M" + x1 + " " + y1 + " L" + x2 + " " + y2
        : "M" + x1 + " " + y1 + " C" + (x1 + dx) + " " + y1 + " " + (x2 - dx) + " " + y2 + " " + x2 + " " + y2;
      var hcls = b.n.health === "ok" ? "" : b.n.health;
      svg.appendChild(sv("path", { class: "edge " + hcls, d: d, "data-from": e.from, "data-to": e.to }));
    });
    st.nodes.forEach(function (n) {
      var p = pos[n.id];
      var g = sv("g", {
        class: "node " + n.health + (n.id === selected ? " selected" : ""), transform: "translate(" + p.x + "," + p.y + ")",
        "data-id": n.id, "data-name": n.name, "data-kind": n.kind, "data-health": n.health, tabindex: "0",
        "data-rows": n.rows === undefined ? null : String(n.rows),
        "data-throughput": n.last_hour === undefined ? null : String(n.last_hour),
        onclick: function () { select(n.id); }
      },
        sv("title", null, n.name + " — " + n.health + (n.reasons ? "\n" + n.reasons.join("\n") : "")),
        sv("rect", { width: G.nodeW, height: G.nodeH, rx: 7, ry: 7 }),
        sv("text", { class: "kind", x: 10, y: 15 }, KIND[n.kind] || n.kind),
        sv("text", { class: "name", x: 10, y: 32 }, short(n.name, 27)),
        sv("text", { class: "sub", x: 10, y: 49 }, short(nodeSub(n), 30)),
        n.throughput ? sv("polyline", { class: "spark", points: sparkPoints(n.throughput, G.nodeW - 72, 5, 62, 14) }) : null);
      svg.appendChild(g);
    });
    return svg;
  }

  // sparkPoints draws per-minute counts as a polyline in the box x, y,
  // w × h (the latest minute on the right).
  function sparkPoints(series, x, y, w, h) {
    var max = Math.max.apply(null, series.concat([1]));
    var step = series.length > 1 ? w / (series.length - 1) : w;
    return series.map(function (v, i) {
      return (x + i * step).toFixed(1) + "," + (y + h - (v / max) * h).toFixed(1);
    }).join(" ");
  }

  function opCounts(m) {
    return Object.keys(m || {}).sort().map(function (k) { return k + " " + num(m[k]); }).join(", ") || "–";
  }

  function verifyText(v) {
    if (v.skipped) return "skipped: " + v.skipped + " (" + ago(v.at) + ")";
    var s = (v.ok ? "no drift" : "DRIFT") + " · Postgres " + num(v.postgres_rows) +
      (v.clickhouse_rows >= 0 ? " · ClickHouse " + num(v.clickhouse_rows) : "") + (v.lake_rows >= 0 ? " · lake " + num(v.lake_rows) : "") +
      " · " + ago(v.at);
    (v.drift || []).forEach(function (d) {
      s += " · " + d.sink + ": " + num(d.rows) + " " + d.kind + " (e.g. key " + (d.examples || []).join("; ") + ")";
    });
    return s;
  }

  function select(id) {
    selected = id;
    var q = new URLSearchParams(location.search);
    q.set("node", id);
    history.replaceState(null, "", location.pathname + "?" + q.toString());
    if (last) renderGraphPage(last);
  }

  function tableLink(n) {
    if (!n.table) return null;
    var p = n.pipelines[0];
    return el("a", { href: "/table?pipeline=" + encodeURIComponent(p) + "&table=" + encodeURIComponent(n.table) }, "table page: " + n.table + " →");
  }

  function incidentItems(list) {
    return el("ul", { class: "reasons" }, list.map(function (i) {
      return el("li", null, el("strong", null, i.msg.replace(/^incident: /, "")), i.error ? " — " + i.error : "",
        el("span", { class: "muted" }, " (since " + ago(i.start) + ", " + i.count + "×)"));
    }));
  }

  function checksTable(checks) {
    return el("table", { class: "t" }, el("tr", null, el("th", null, "check"), el("th", null, "result"), el("th", null, "at"), el("th", null, "detail")),
      checks.map(function (c) {
        return el("tr", null, el("td", { class: "mono" }, c.check), el("td", null, pill(c.ok ? "ok" : "failing", c.ok ? "passed" : "failed")),
          el("td", null, ago(c.at)), el("td", { class: "mono" }, c.detail || ""));
      }));
  }

  function nodeDetails(n) {
    if (!n) return el("div", { class: "card" }, el("h3", null, "Details"), el("p", { class: "muted" }, "Select a node in the graph."));
    var kv = el("dl", { class: "kv" },
      el("dt", null, "kind"), el("dd", null, KIND[n.kind] || n.kind),
      el("dt", null, "id"), el("dd", null, n.id),
      el("dt", null, "pipelines"), el("dd", null, n.pipelines.join(", ")));
    function add(k, v) { kv.appendChild(el("dt", null, k)); kv.appendChild(el("dd", null, v)); }
    if (n.sink) {
      add("sink", n.sink);
      add("lag", num(n.lag_records) + " records, " + secs(n.lag_seconds));
      add("last commit", when(n.last_commit));
    }
    if (n.progress) add("progress", n.progress);
    if (isSet(n.freshness)) add("freshness", when(n.freshness));
    if (n.rows !== undefined) add("rows", num(n.rows));
    if (n.version !== undefined) add("lake version", num(n.version));
    if (n.files !== undefined) add("files", num(n.files));
    if (n.last_hour !== undefined) {
      add("last hour", el("span", { "data-throughput": String(n.last_hour) }, num(n.last_hour) + " changes (per minute below)"));
      var big = sv("svg", { class: "spark-big", viewBox: "0 0 360 48", preserveAspectRatio: "none" },
        sv("polyline", { points: sparkPoints(n.throughput, 2, 2, 356, 44) }));
      add("throughput", big);
    }
    if (n.reconcile) {
      add("rows in", opCounts(n.reconcile.in));
      add("rows out", opCounts(n.reconcile.out));
      add("duplicates skipped", num(n.reconcile.duplicates_skipped));
    }
    if (n.verify) add("inlet verify", el("span", { "data-verify": n.verify.ok ? "ok" : "drift" }, verifyText(n.verify)));
    return el("div", { class: "card", id: "details", "data-id": n.id, "data-health": n.health },
      el("h3", null, n.name, " ", pill(n.health)),
      n.reasons ? el("ul", { class: "reasons" }, n.reasons.map(function (r) { return el("li", null, r); })) : null,
      kv,
      n.checks && n.checks.length ? [el("h4", null, "Summary checks (latest)"), checksTable(n.checks)] : null,
      n.incidents && n.incidents.length ? [el("h4", null, "Open incidents"), incidentItems(n.incidents)] : null,
      tableLink(n));
  }

  function nodeList(st) {
    var nodes = st.nodes.slice().sort(function (a, b) {
      return ORDER[a.health] - ORDER[b.health] || a.col - b.col || a.row - b.row;
    });
    return el("div", { class: "nodelist" }, nodes.map(function (n) {
      return el("div", { class: "nodecard " + n.health, onclick: function () { select(n.id); window.scrollTo(0, 0); } },
        el("div", { class: "muted" }, KIND[n.kind] || n.kind, " · ", n.health),
        el("div", { class: "name" }, n.name),
        n.reasons ? el("div", { class: "muted" }, short(n.reasons[0], 140)) : el("div", { class: "muted" }, nodeSub(n)));
    }));
  }

  function renderGraphPage(st) {
    var byID = {};
    st.nodes.forEach(function (n) { byID[n.id] = n; });
    var main = document.getElementById("main");
    var wrap = document.querySelector(".graph-wrap");
    var scroll = wrap ? wrap.scrollLeft : 0;
    replace(main, [
      legend(st),
      el("div", { class: "layout" },
        el("div", null, el("div", { class: "graph-wrap" }, drawGraph(st))),
        nodeDetails(byID[selected])),
      el("h3", null, "All nodes"),
      nodeList(st)
    ]);
    wrap = document.querySelector(".graph-wrap");
    if (wrap) wrap.scrollLeft = scroll;
  }

  function renderTablePage(t) {
    var main = document.getElementById("main");
    var cols = t.columns.length ? el("div", { class: "scroll" }, el("table", { class: "t" },
      el("tr", null, el("th", null, "column"), el("th", null, "source type"), el("th", null, "Inlet type"), el("th", null, "key")),
      t.columns.map(function (c) {
        return el("tr", null, el("td", { class: "mono" }, c.name), el("td", { class: "mono" }, c.source_type || "–"),
          el("td", { class: "mono" }, c.type), el("td", null, c.key ? "yes" : ""));
      }))) : el("p", { class: "muted" }, "No schema yet: the lake has no commit for this table.");
    var lake = t.lake ? el("dl", { class: "kv" },
      el("dt", null, "where"), el("dd", null, t.lake.where),
      el("dt", null, "version"), el("dd", null, num(t.lake.version)),
      el("dt", null, "change rows"), el("dd", null, num(t.lake.rows)),
      el("dt", null, "files"), el("dd", null, num(t.lake.files)),
      el("dt", null, "last commit"), el("dd", null, when(t.lake.committed))) : el("p", { class: "muted" }, "Not in the lake yet.");
    var ch = t.clickhouse ? el("dl", { class: "kv" },
      el("dt", null, "mirror"), el("dd", null, t.clickhouse.table),
      el("dt", null, "view"), el("dd", null, t.clickhouse.view),
      el("dt", null, "current rows"), el("dd", null, t.clickhouse.exists ? num(t.clickhouse.rows) : "table not created yet"),
      el("dt", null, "last synced"), el("dd", null, when(t.clickhouse.last_synced)),
      el("dt", null, "as of"), el("dd", null, when(t.clickhouse.as_of)),
      t.clickhouse.error ? [el("dt", null, "error"), el("dd", null, t.clickhouse.error)] : null) : el("p", { class: "muted" }, "No ClickHouse mirror.");
    var summaries = t.nodes.filter(function (n) { return n.kind === "clickhouse_summary"; });
    replace(main, [
      el("h1", null, t.table, " ", el("span", { class: "muted" }, "in pipeline " + t.pipeline)),
      el("div", { class: "nodelist" }, t.nodes.map(function (n) {
        return el("div", { class: "nodecard " + n.health, "data-id": n.id, "data-health": n.health },
          el("div", { class: "muted" }, KIND[n.kind] || n.kind, " · ", n.health),
          el("div", { class: "name" }, n.name),
          n.reasons ? el("div", { class: "muted" }, n.reasons.join("; ")) : null,
          el("div", { class: "muted" }, nodeSub(n)));
      })),
      el("div", { class: "card" }, el("h3", null, "Schema"), cols),
      el("div", { class: "card" }, el("h3", null, "Lake"), lake),
      el("div", { class: "card" }, el("h3", null, "ClickHouse"), ch),
      summaries.length ? el("div", { class: "card" }, el("h3", null, "Summaries"), summaries.map(function (n) {
        return [el("h4", null, n.name, " ", pill(n.health), n.rows !== undefined ? el("span", { class: "muted" }, " " + num(n.rows) + " rows, refreshed " + ago(n.freshness)) : null),
          n.checks && n.checks.length ? checksTable(n.checks) : el("p", { class: "muted" }, "No checks yet.")];
      })) : null,
      el("div", { class: "card" }, el("h3", null, "Incidents"), t.incidents.length ? timeline(t.incidents) : el("p", { class: "muted" }, "None recorded for this table."))
    ]);
  }

  function timeline(list) {
    return el("ul", { class: "timeline" }, list.map(function (i) {
      var state = i.open ? "open" : (i.resolution === "recorded" ? "recorded" : "resolved");
      return el("li", { class: state, "data-open": i.open ? "true" : "false", "data-subject": i.subject },
        el("div", null, pill(i.open ? "failing" : (state === "resolved" ? "ok" : "stale"), state), " ",
          el("strong", null, i.msg.replace(/^incident( resolved)?: /, "")), " ",
          el("span", { class: "muted" }, i.pipeline + " · " + i.subject)),
        i.error ? el("div", { class: "mono" }, i.error) : null,
        el("div", { class: "muted" }, "from " + when(i.start) + (i.count > 1 ? " · " + i.count + " entries, last " + ago(i.last) : "") +
          (isSet(i.resolved) ? " · resolved " + when(i.resolved) + ": " + i.resolution.replace(/^incident resolved: /, "") : "") +
          (!i.open && !isSet(i.resolved) && i.resolution !== "recorded" ? " · " + i.resolution : "")));
    }));
  }

  function renderIncidents(list) {
    var open = list.filter(function (i) { return i.open; });
    replace(document.getElementById("main"), [
      el("h1", null, "Incidents"),
      el("div", { class: "card" }, el("h3", null, "Open (" + open.length + ")"), open.length ? timeline(open) : el("p", { class: "muted" }, "Nothing open.")),
      el("div", { class: "card" }, el("h3", null, "Timeline"), list.length ? timeline(list) : el("p", { class: "muted" }, "No incidents recorded."))
    ]);
  }

  function offsets(b) {
    return (b.offsets || []).map(function (o) { return o.topic + "/" + o.partition + "=" + o.next; }).join("  ");
  }
  function rowsOf(b) {
    var n = 0;
    Object.keys(b.rows || {}).forEach(function (k) { n += b.rows[k]; });
    return n;
  }
  function renderCheckpoints(list) {
    replace(document.getElementById("main"), [
      el("h1", null, "Checkpoints"),
      list.map(function (s) {
        return el("div", { class: "card", "data-sink": s.sink },
          el("h3", null, s.pipeline + " · " + s.sink),
          s.error ? el("p", { class: "h-failing pill" }, s.error) : null,
          s.latest ? el("dl", { class: "kv" },
            el("dt", null, "latest"), el("dd", null, "#" + s.latest.id + " at " + when(s.latest.time)),
            el("dt", null, "batches"), el("dd", null, num(s.total)),
            el("dt", null, "offsets (next)"), el("dd", null, offsets(s.latest)),
            s.latest.lake_versions ? [el("dt", null, "lake versions"), el("dd", null, JSON.stringify(s.latest.lake_versions))] : null)
            : el("p", { class: "muted" }, "No checkpoint yet."),
          s.history.length ? [el("h4", null, "History (newest first, last " + s.history.length + ")"),
            el("div", { class: "scroll tall" }, el("table", { class: "t" },
              el("tr", null, el("th", null, "id"), el("th", null, "time"), el("th", null, "rows"), el("th", null, "offsets (next)")),
              s.history.map(function (b) {
                return el("tr", null, el("td", null, "#" + b.id), el("td", null, isSet(b.time) ? new Date(b.time).toLocaleTimeString() : "–"),
                  el("td", null, num(rowsOf(b))), el("td", { class: "mono" }, offsets(b)));
              })))] : null);
      })
    ]);
  }

  function markNav() {
    var name = route === "/" ? "graph" : route.slice(1);
    document.querySelectorAll("[data-nav]").forEach(function (a) {
      if (a.getAttribute("data-nav") === name) a.classList.add("active");
    });
  }

  markNav();
  if (route === "/") {
    poll(function () {
      return getJSON("/api/status").then(function (st) { last = st; renderHeader(st); renderGraphPage(st); });
    }, 1500);
  } else {
    poll(function () { return getJSON("/api/status").then(renderHeader); }, 1500);
    if (route === "/table") {
      poll(function () {
        return getJSON("/api/table?" + new URLSearchParams({ pipeline: query.get("pipeline") || "", table: query.get("table") || "" })).then(renderTablePage);
      }, 2000);
    } else if (route === "/incidents") {
      poll(function () { return getJSON("/api/incidents").then(renderIncidents); }, 2000);
    } else if (route === "/checkpoints") {
      poll(function () { return getJSON("/api/checkpoints").then(renderCheckpoints); }, 5000);
    }
  }
})();
