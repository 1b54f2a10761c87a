// nerkit web UI: talks to the server it was served by (same origin) and to nothing else.
"use strict";
const $ = (id) => document.getElementById(id);
const EXAMPLES = [
  ["MRI and CT", "Magnetic resonance imaging (MRI) and computed tomography (CT) were performed in all patients; MRI was repeated after 6 months."],
  ["Cardiology", "Patients with heart failure with reduced ejection fraction (HFrEF) received angiotensin-converting enzyme (ACE) inhibitors, and the left ventricular ejection fraction (LVEF) was measured by echocardiography."],
  ["Neuroimaging", "Functional magnetic resonance imaging (fMRI) and diffusion tensor imaging (DTI) were acquired in patients with mild cognitive impairment (MCI)."],
  ["Molecular biology", "Expression of tumor necrosis factor alpha (TNF-α) and interleukin-6 (IL-6) was quantified by reverse transcription polymerase chain reaction (RT-PCR)."],
  ["Pulmonology", "Chronic obstructive pulmonary disease (COPD) was defined by a forced expiratory volume in one second (FEV1) below 80% of the predicted value."],
];
// for models without abbreviation pairs (Disease, Chemical, Gene, Species, ...); listed before the ones above
const GENERIC_EXAMPLES = [
  ["Drugs and diseases", "Treatment with cisplatin induced acute kidney injury in patients with non-small cell lung cancer, whereas metformin lowered the risk of type 2 diabetes."],
  ["Genes and species", "Mutations in BRCA1 and TP53 were detected in human breast cancer cell lines and in mice (Mus musculus); gefitinib inhibited EGFR signalling."],
  ["Clinical case", "A 54-year-old woman with rheumatoid arthritis received methotrexate and folic acid; Staphylococcus aureus was isolated from a blood culture."],
];
const MAX_UPLOAD_BYTES = 2 << 20;
const LOW = 0.5;
const state = { docs: [], current: 0, sort: { key: "start", dir: 1 }, limits: null, busy: false };
// Entity types: `order` from /info (`entity_types`, else derived from `labels`), types first seen in answers appended;
// `pairs` is /info's `{short, long}` when the model pairs abbreviations with long forms, else null; `known`: /info read.
const types = { order: [], pairs: null, known: false };
const SLOTS = 12; // colour slots in ui.css (.c0 ... .c11)
const STYLES = 5; // underline styles in ui.css (.u0 solid, .u1 dashed, .u2 dotted, .u3 double, .u4 wavy)
// each slot's underline style, chosen so that similar hues (amber/orange/brown, blue/indigo/cyan, green/teal/olive,
// purple/magenta) never share one; slots 0 and 1 keep the abbreviation UI's solid AC and dashed LF
const SLOT_STYLE = [0, 1, 2, 3, 4, 1, 2, 0, 4, 0, 4, 3];

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value || sessionStorage.getItem("nerkit-api-key");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}
function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = !msg;
}

// ---- theme ----
const THEMES = ["auto", "light", "dark"];
function applyTheme(t) {
  if (t === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", t);
  $("theme").textContent = "Theme: " + t;
  $("theme").setAttribute("aria-label", "Colour theme: " + (t === "auto" ? "follows the system" : t));
}
function initTheme() {
  const fromUrl = new URLSearchParams(location.search).get("theme");
  let t = THEMES.includes(fromUrl) ? fromUrl : localStorage.getItem("nerkit-theme") || "auto";
  applyTheme(t);
  $("theme").onclick = () => {
    t = THEMES[(THEMES.indexOf(t) + 1) % THEMES.length];
    localStorage.setItem("nerkit-theme", t);
    applyTheme(t);
  };
}

// ---- entity types ----
function kindOf(label) {
  return String(label).replace(/^[BIESLU]-/, "");
}
function typesFromLabels(labels) {
  const out = [];
  for (const l of labels) { const k = kindOf(l); if (l !== "O" && k && !out.includes(k)) out.push(k); }
  return out;
}
function setTypes(list, pairs) {
  const order = [];
  const add = (t) => { if (typeof t === "string" && t && !order.includes(t)) order.push(t); };
  if (pairs) { add(pairs.short); add(pairs.long); }
  list.forEach(add);
  types.order = order;
  types.pairs = pairs;
  applyMode();
}
function typeIndex(kind) {
  let i = types.order.indexOf(kind);
  if (i < 0) { types.order.push(kind); i = types.order.length - 1; renderLegend(); }
  return i;
}
// colour slot by type index; past 12 types the colours repeat with another underline style
function typeClass(kind) {
  const i = typeIndex(kind), c = i % SLOTS;
  return `c${c} u${(SLOT_STYLE[c] + Math.floor(i / SLOTS)) % STYLES}`;
}
function friendly(kind) {
  if (types.pairs && kind === types.pairs.short) return "abbreviation";
  if (types.pairs && kind === types.pairs.long) return "long form";
  return kind;
}
function badge(kind) {
  const cps = Array.from(kind);
  return cps.length > 14 ? cps.slice(0, 13).join("") + "…" : kind;
}
function chip(kind, content, extra) {
  return `<span class="ent ${typeClass(kind)}${extra || ""}" data-label="${esc(kind)}" data-badge="${esc(badge(kind))}" title="${esc(friendly(kind))}">${content}</span>`;
}
function renderLegend() {
  const el = $("legend");
  if (!types.order.length) {
    el.innerHTML = '<span class="muted">Entity types appear here once the server has answered.</span>';
    return;
  }
  const p = types.pairs;
  const rest = types.order.filter((k) => !p || (k !== p.short && k !== p.long));
  let html = p ? `${chip(p.short, esc(p.short))} abbreviation\n${chip(p.long, esc(p.long))} long form\n` : "";
  html += rest.map((k) => chip(k, esc(k), " type")).join("\n");
  html += `\n${chip(types.order[0], "?", " low")} low confidence (score &lt; ${LOW})`;
  el.innerHTML = html;
}
// the parts of the page that depend on the model: pairs and glossary tables, examples, headings
function pairMode() {
  return !!types.pairs || state.docs.some((d) => d.result && ("pairs" in d.result || "glossary" in d.result));
}
function examples() {
  return types.known && !types.pairs ? GENERIC_EXAMPLES.concat(EXAMPLES) : EXAMPLES;
}
function fillExamples() {
  const ex = $("example");
  while (ex.options.length > 1) ex.remove(1);
  ex.querySelectorAll("optgroup").forEach((g) => g.remove());
  const list = examples();
  if (list === EXAMPLES) {
    list.forEach(([name], i) => ex.add(new Option(name, String(i))));
  } else {
    const groups = [["Entities", 0, GENERIC_EXAMPLES.length], ["Abbreviations", GENERIC_EXAMPLES.length, list.length]];
    for (const [label, from, to] of groups) {
      const g = document.createElement("optgroup");
      g.label = label;
      for (let i = from; i < to; i++) g.appendChild(new Option(list[i][0], String(i)));
      ex.appendChild(g);
    }
  }
  ex.value = "";
}
function applyMode() {
  const pm = pairMode();
  $("pair-tables").hidden = !pm;
  $("pairs-control").hidden = !types.pairs;
  $("subtitle").textContent = pm ? "abbreviations & long forms in biomedical text" : "named entities in biomedical text";
  document.title = pm ? "nerkit — abbreviations and long forms" : "nerkit — biomedical named entities";
  const set = examples() === EXAMPLES ? "abbreviations" : "entities";
  if ($("example").dataset.set !== set) {
    // an untouched abbreviation example in the box gives way to an entity one
    if (set === "entities" && !state.docs.length && $("text").value === EXAMPLES[0][1]) {
      $("text").value = GENERIC_EXAMPLES[0][1];
      renderCurl();
    }
    fillExamples();
    $("example").dataset.set = set;
  }
  renderLegend();
}

// ---- server info ----
async function loadInfo() {
  try {
    const r = await fetch("/info", { headers: headers() });
    if (r.status === 401) {
      $("key-row").hidden = false;
      $("backend").textContent = "this server needs an API key";
      return;
    }
    const j = await r.json();
    if (!r.ok) {
      $("backend").textContent = j.error || "server not ready";
      if (r.status === 503) setTimeout(loadInfo, 2000);
      return;
    }
    state.limits = j.limits;
    const list = Array.isArray(j.entity_types) && j.entity_types.length ? j.entity_types : typesFromLabels(j.labels || []);
    let pairs = j.pairs && typeof j.pairs.short === "string" && typeof j.pairs.long === "string"
      ? { short: j.pairs.short, long: j.pairs.long } : null;
    // a server from before `entity_types` and `pairs` served the abbreviation models only
    if (!pairs && !("entity_types" in j) && list.includes("AC") && list.includes("LF")) pairs = { short: "AC", long: "LF" };
    types.known = true;
    setTypes(list, pairs);
    if (state.docs.length) render();
    $("backend").textContent = `model ${j.model_id.split("/").filter(Boolean).pop() || j.model_id} · backend ${j.backend}`;
    $("backend").title = (j.backend_reasons || []).join("\n");
  } catch (e) {
    $("backend").textContent = "server unreachable";
  }
}

// ---- request ----
function requestBody(texts) {
  const aggregation = $("aggregation").value;
  const body = texts.length === 1 ? { text: texts[0] } : { texts };
  if (aggregation !== "native") body.aggregation = aggregation;
  else if ($("decode").value !== "viterbi") body.decode = $("decode").value;
  if (types.pairs && $("pairmode").value !== "hybrid") body.pairs = $("pairmode").value;
  return body;
}
async function tagTexts(texts) {
  const chunk = Math.max(1, Math.min(64, state.limits ? state.limits.max_texts : 64));
  const results = [];
  for (let i = 0; i < texts.length; i += chunk) {
    const part = texts.slice(i, i + chunk);
    const r = await fetch("/tag", { method: "POST", headers: headers(), body: JSON.stringify(requestBody(part)) });
    let j;
    try { j = await r.json(); } catch (e) { throw new Error(`HTTP ${r.status}: the server's answer is not JSON`); }
    if (!r.ok) {
      if (r.status === 401) $("key-row").hidden = false;
      const retry = r.headers.get("Retry-After");
      throw new Error(`${j.error || "request failed"} (HTTP ${r.status}${j.kind ? ", " + j.kind : ""}${retry ? ", retry in " + retry + " s" : ""})`);
    }
    results.push(...(part.length === 1 ? [j] : j));
  }
  return results;
}
async function run(docs) {
  if (state.busy) return;
  state.busy = true;
  $("tag").disabled = true;
  showError("");
  const t0 = performance.now();
  try {
    const results = await tagTexts(docs.map((d) => d.text));
    docs.forEach((d, i) => (d.result = results[i]));
    state.docs = docs;
    state.current = 0;
    if (!types.pairs) {
      // pairs in an answer though /info named none (an older server): their types are the short and long forms
      for (const r of results) {
        const p = (r.pairs || [])[0];
        if (p && r.entities[p.ac] && r.entities[p.lf]) {
          setTypes(types.order, { short: kindOf(r.entities[p.ac].label), long: kindOf(r.entities[p.lf].label) });
          break;
        }
      }
    }
    const ms = performance.now() - t0;
    const n = results.reduce((a, r) => a + r.entities.length, 0);
    $("latency").textContent = `${docs.length} text${docs.length > 1 ? "s" : ""}, ${n} entities in ${ms.toFixed(0)} ms`;
    render();
  } catch (e) {
    showError(e.message || String(e));
  } finally {
    state.busy = false;
    $("tag").disabled = false;
  }
}
function tagCurrent() {
  const text = $("text").value;
  if (!text.trim()) { showError("Enter a text first."); return; }
  run([{ id: "text", text }]);
}

// ---- rendering ----
function visible(result) {
  const min = parseFloat($("threshold").value);
  return result.entities.map((e, i) => ({ ...e, i })).filter((e) => e.score >= min);
}
function render() {
  const doc = state.docs[state.current];
  $("docs-nav").hidden = state.docs.length < 2;
  $("doc-pos").textContent = `document ${state.current + 1} of ${state.docs.length}: ${doc ? doc.id : ""}`;
  for (const b of ["dl-jsonl", "dl-csv", "dl-ann"]) $(b).disabled = !doc;
  if (!doc) return;
  const cps = Array.from(doc.text);
  const ents = visible(doc.result).sort((a, b) => a.start - b.start);
  let html = "", at = 0;
  for (const e of ents) {
    if (e.start < at) continue; // overlapping token entities: keep the first
    const kind = kindOf(e.label);
    const low = e.score < LOW ? " low" : "";
    const what = `${friendly(kind)}, score ${e.score.toFixed(2)}, characters ${e.start}–${e.end}`;
    html += esc(cps.slice(at, e.start).join(""));
    html += `<mark class="ent ${typeClass(kind)}${low}" data-label="${esc(kind)}" data-badge="${esc(badge(kind))}" data-i="${e.i}" tabindex="0" title="${esc(what)}" aria-label="${esc(cps.slice(e.start, e.end).join("") + ": " + what)}">${esc(cps.slice(e.start, e.end).join(""))}</mark>`;
    at = e.end;
  }
  html += esc(cps.slice(at).join(""));
  $("doc").innerHTML = html || '<p class="muted">(empty text)</p>';
  applyMode();
  if (pairMode()) {
    renderPairs(doc);
    renderGlossary(doc);
  }
  renderEntities(doc);
  renderCurl();
}
function hoverRows(tbody) {
  for (const tr of tbody.querySelectorAll("tr[data-ents]")) {
    const ids = tr.dataset.ents.split(",").filter(Boolean);
    const on = (v) => ids.forEach((i) => document.querySelectorAll(`mark[data-i="${i}"]`).forEach((m) => m.classList.toggle("hl", v)));
    tr.onmouseenter = tr.onfocus = () => on(true);
    tr.onmouseleave = tr.onblur = () => on(false);
  }
}
// what a pair rests on: the model's tags, the short form's letters aligned with the long form, or both
const EVIDENCE = {
  both: ["model + letters", "the model tagged both and the abbreviation's letters align with the long form"],
  model: ["model", "the model's tags only: the letters do not align"],
  letters: ["letters", "the abbreviation's letters set the long form (the model disagreed or was not asked)"],
};
function evidence(e) {
  const [text, title] = EVIDENCE[e] || [e || "", ""];
  return `<span class="evidence ev-${esc(e || "")}" title="${esc(title)}">${esc(text)}</span>`;
}
function renderPairs(doc) {
  const tb = $("pairs").tBodies[0];
  const ents = doc.result.entities;
  const pairs = doc.result.pairs || [];
  tb.innerHTML = pairs.length
    ? pairs.map((p) => `<tr tabindex="0" data-ents="${p.ac},${p.lf}"><td>${esc(ents[p.ac].text)}</td><td>${esc(ents[p.lf].text)}</td><td>${esc(p.rule)}</td><td>${evidence(p.evidence)}</td><td class="num">${p.score.toFixed(2)}</td></tr>`).join("")
    : '<tr><td colspan="5" class="muted">no pairs</td></tr>';
  hoverRows(tb);
}
function renderGlossary(doc) {
  const tb = $("glossary").tBodies[0];
  const g = Object.entries(doc.result.glossary || {});
  tb.innerHTML = g.length
    ? g.map(([ac, e]) => {
      const others = (e.other_definitions || []).map((o) => `<div class="muted">also: ${esc(o.long_form)}</div>`).join("");
      const ids = [e.lf, ...(e.other_definitions || []).map((o) => o.lf), ...e.mentions];
      return `<tr tabindex="0" data-ents="${ids.join(",")}"><td>${esc(ac)}</td><td>${esc(e.long_form)}${others}</td><td class="num">${e.mentions.length}</td></tr>`;
    }).join("")
    : '<tr><td colspan="3" class="muted">no definitions found</td></tr>';
  hoverRows(tb);
}
function renderEntities(doc) {
  const { key, dir } = state.sort;
  const rows = visible(doc.result).sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : a.start - b.start));
  const tb = $("entities").tBodies[0];
  tb.innerHTML = rows.length
    ? rows.map((e) => `<tr tabindex="0" data-ents="${e.i}"><td>${esc(e.text)}</td><td>${esc(e.label)}</td><td class="num">${e.score.toFixed(3)}</td><td class="num">${e.start}</td><td class="num">${e.end}</td></tr>`).join("")
    : '<tr><td colspan="5" class="muted">no entities at this threshold</td></tr>';
  for (const th of $("entities").tHead.rows[0].cells) {
    const k = th.querySelector("button").dataset.key;
    if (k === key) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
  hoverRows(tb);
}
function renderCurl() {
  const text = $("text").value || "…";
  const body = JSON.stringify(requestBody([text])).replace(/'/g, "'\\''");
  const key = headers()["Authorization"] ? " -H 'Authorization: Bearer $NERKIT_API_KEY'" : "";
  $("curl").textContent = `curl -s ${location.origin}/tag -H 'Content-Type: application/json'${key} \\\n  -d '${body}'`;
  $("tag-url").textContent = location.origin + "/tag";
}

// ---- files ----
function parseUpload(name, content) {
  if (name.toLowerCase().endsWith(".jsonl")) {
    return content.split(/\r?\n/).map((l, n) => [l, n + 1]).filter(([l]) => l.trim()).map(([l, n]) => {
      let v;
      try { v = JSON.parse(l); } catch (e) { throw new Error(`${name}:${n}: not JSON (${e.message})`); }
      if (typeof v.text !== "string") throw new Error(`${name}:${n}: no "text" string field`);
      return { id: v.id != null ? String(v.id) : `${name}:${n}`, text: v.text };
    });
  }
  return content.split(/\r?\n/).map((l, n) => ({ id: `${name}:${n + 1}`, text: l })).filter((d) => d.text.trim());
}
function download(name, type, content) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([content], { type }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
}
function csvCell(v) {
  const s = String(v);
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
function wireDownloads() {
  $("dl-jsonl").onclick = () => download("nerkit.jsonl", "application/x-ndjson",
    state.docs.map((d) => JSON.stringify({ id: d.id, text: d.text, ...d.result })).join("\n") + "\n");
  $("dl-csv").onclick = () => download("nerkit.csv", "text/csv",
    "id,label,start,end,text,score\n" + state.docs.flatMap((d) => d.result.entities.map((e) =>
      [d.id, e.label, e.start, e.end, e.text, e.score.toFixed(4)].map(csvCell).join(","))).join("\n") + "\n");
  $("dl-ann").onclick = () => {
    const d = state.docs[state.current];
    const ann = d.result.entities.map((e, k) => `T${k + 1}\t${kindOf(e.label).replace(/\s+/g, "_")} ${e.start} ${e.end}\t${e.text.replace(/\s+/g, " ")}`).join("\n");
    download(`${d.id.replace(/[^\w.-]+/g, "_")}.ann`, "text/plain", ann + "\n");
  };
}

// ---- wiring ----
function init() {
  initTheme();
  const ex = $("example");
  ex.onchange = () => { if (ex.value !== "") { $("text").value = examples()[+ex.value][1]; renderCurl(); } };
  $("text").value = EXAMPLES[0][1];
  $("tag").onclick = tagCurrent;
  $("text").addEventListener("keydown", (e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); tagCurrent(); } });
  $("text").addEventListener("input", renderCurl);
  $("aggregation").onchange = () => { $("decode").disabled = $("aggregation").value !== "native"; renderCurl(); };
  $("decode").onchange = renderCurl;
  $("pairmode").onchange = () => {
    renderCurl();
    if (state.docs.length === 1 && state.docs[0].id === "text") tagCurrent();
  };
  $("threshold").oninput = () => { $("threshold-value").textContent = (+$("threshold").value).toFixed(2); if (state.docs.length) render(); };
  $("apikey").onchange = () => { sessionStorage.setItem("nerkit-api-key", $("apikey").value); loadInfo(); renderCurl(); };
  $("prev").onclick = () => { state.current = (state.current + state.docs.length - 1) % state.docs.length; render(); };
  $("next").onclick = () => { state.current = (state.current + 1) % state.docs.length; render(); };
  for (const b of $("entities").tHead.querySelectorAll("button")) {
    b.onclick = () => {
      const k = b.dataset.key;
      state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : 1 };
      if (state.docs.length) renderEntities(state.docs[state.current]);
    };
  }
  $("file").onchange = async () => {
    const f = $("file").files[0];
    if (!f) return;
    if (f.size > MAX_UPLOAD_BYTES) { showError(`${f.name}: ${f.size} bytes; the page takes files up to ${MAX_UPLOAD_BYTES} bytes (use nerkit predict for corpora)`); return; }
    try {
      const docs = parseUpload(f.name, await f.text());
      if (!docs.length) throw new Error(`${f.name}: no text found`);
      $("text").value = docs[0].text;
      renderCurl();
      await run(docs);
    } catch (e) {
      showError(e.message || String(e));
    }
  };
  wireDownloads();
  applyMode();
  renderCurl();
  loadInfo();
  // a shared link: /?text=... fills the box and tags it
  const shared = new URLSearchParams(location.search).get("text");
  if (shared) { $("text").value = shared; renderCurl(); tagCurrent(); }
}
init();
