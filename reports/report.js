// The sample browser: filters and pages over a compact index, and opens a row's long texts on demand.
// Model output is untrusted: it only ever reaches the page through textContent, never as markup.
(function () {
  "use strict";
  const PAGE = 50;
  const index = JSON.parse(document.getElementById("dd-index").textContent);
  const chunkData = JSON.parse(document.getElementById("dd-chunks").textContent);
  const thumbs = JSON.parse(document.getElementById("dd-thumbs").textContent);
  const chunkCache = new Map();
  const body = document.querySelector("#dd-table tbody");
  const field = (id) => document.getElementById(id);
  let filtered = [];
  let page = 0;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function chunk(number) {
    if (!chunkCache.has(number)) {
      const bytes = Uint8Array.from(atob(chunkData[number]), (c) => c.charCodeAt(0));
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      chunkCache.set(number, new Response(stream).text().then(JSON.parse));
    }
    return chunkCache.get(number);
  }

  function matches(row) {
    const run = field("f-run").value, bench = field("f-bench").value, subject = field("f-subject").value;
    if (run !== "" && row[0] !== Number(run)) return false;
    if (bench !== "" && row[1] !== Number(bench)) return false;
    if (subject !== "" && row[3] !== Number(subject)) return false;
    if (field("f-wrong").checked && row[5].indexOf("0") < 0) return false;
    if (field("f-flipped").checked && !row[7]) return false;
    const text = field("f-text").value.trim().toLowerCase();
    if (text && row[2].toLowerCase().indexOf(text) < 0 && row[4].toLowerCase().indexOf(text) < 0) return false;
    return true;
  }

  function applyFilters() {
    filtered = [];
    index.rows.forEach((row, position) => { if (matches(row)) filtered.push(position); });
    page = 0;
    draw();
  }

  function marks(text) {
    const span = el("span", null, "marks");
    for (const mark of text) {
      const cls = { "1": "right", "0": "wrong", "?": "undecided", "E": "error", "-": "missing" }[mark] || "missing";
      const label = { "1": "correct", "0": "wrong", "?": "undecided", "E": "error", "-": "no score" }[mark] || "?";
      const dot = el("span", mark === "1" ? "✓" : mark === "0" ? "✗" : mark, "mark " + cls);
      dot.title = label;
      span.appendChild(dot);
    }
    return span;
  }

  function draw() {
    body.replaceChildren();
    const pages = Math.max(1, Math.ceil(filtered.length / PAGE));
    page = Math.min(page, pages - 1);
    for (const position of filtered.slice(page * PAGE, (page + 1) * PAGE)) {
      const row = index.rows[position];
      const tr = el("tr", null, "sample-row");
      tr.dataset.position = String(position);
      const toggle = el("button", "+", "expand");
      toggle.type = "button";
      toggle.setAttribute("aria-label", "show details");
      toggle.addEventListener("click", () => expand(tr, toggle));
      const first = el("td"); first.appendChild(toggle); tr.appendChild(first);
      tr.appendChild(el("td", index.runs[row[0]].label));
      tr.appendChild(el("td", index.benchmarks[row[1]]));
      tr.appendChild(el("td", row[2], "mono"));
      tr.appendChild(el("td", index.subjects[row[3]]));
      tr.appendChild(el("td", row[4]));
      const cell = el("td"); cell.appendChild(marks(row[5])); tr.appendChild(cell);
      body.appendChild(tr);
    }
    field("dd-count").textContent = filtered.length + " of " + index.rows.length + " rows";
    field("dd-page").textContent = "page " + (page + 1) + " of " + pages;
    field("dd-prev").disabled = page === 0;
    field("dd-next").disabled = page >= pages - 1;
  }

  function block(title, text, cls) {
    const wrap = el("div", null, "block " + (cls || ""));
    wrap.appendChild(el("h4", title));
    wrap.appendChild(el("pre", text === null || text === undefined || text === "" ? "(empty)" : text));
    return wrap;
  }

  async function expand(tr, toggle) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("detail-row")) {
      next.remove();
      toggle.textContent = "+";
      return;
    }
    toggle.textContent = "−";
    const position = Number(tr.dataset.position);
    const row = index.rows[position];
    const detailRow = el("tr", null, "detail-row");
    const td = el("td"); td.colSpan = 7; detailRow.appendChild(td);
    td.appendChild(el("p", "loading…", "muted"));
    tr.after(detailRow);
    const details = (await chunk(Math.floor(position / index.chunk_rows)))[position % index.chunk_rows];
    td.replaceChildren();
    const top = el("div", null, "item");
    for (const t of row[8]) {
      const img = document.createElement("img");
      img.src = thumbs[t];
      img.alt = "item image";
      img.className = "thumb";
      top.appendChild(img);
    }
    const q = el("div", null, "question");
    q.appendChild(el("pre", details.question));
    const choices = Object.entries(details.choices || {});
    if (choices.length) {
      const list = el("ol", null, "choices");
      for (const [letter, text] of choices) list.appendChild(el("li", letter + ". " + text));
      q.appendChild(list);
    }
    q.appendChild(el("p", "reference answer: " + details.answer, "answer-key"));
    top.appendChild(q);
    td.appendChild(top);
    details.samples.forEach((s, i) => {
      const [thinking, answer, extracted, method, rationale, finish, thinkTokens, answerTokens, forced, error] = s;
      const mark = row[5][i];
      const box = el("div", null, "sample " + ({ "1": "right", "0": "wrong" }[mark] || "undecided"));
      const verdict = { "1": "correct", "0": "wrong", "?": "undecided", "E": "error", "-": "no score" }[mark];
      const head = "sample " + i + ": " + verdict + " · decided by " + (method >= 0 ? index.methods[method] : "–") +
        " · extracted " + (extracted === null ? "nothing" : JSON.stringify(extracted)) +
        " · " + (thinkTokens ?? "–") + " think + " + (answerTokens ?? "–") + " answer tokens · finish " + (finish ?? "–") +
        (forced ? " · forced" : "");
      box.appendChild(el("p", head, "sample-head"));
      if (error) box.appendChild(block("error", error, "error"));
      const think = el("details", null, "thinking");
      think.appendChild(el("summary", "thinking (" + (thinking ? thinking.length : 0) + " characters)"));
      think.appendChild(el("pre", thinking || "(none)"));
      box.appendChild(think);
      box.appendChild(block("answer", answer));
      if (rationale) box.appendChild(block("judge rationale", rationale, "rationale"));
      td.appendChild(box);
    });
  }

  field("filters").addEventListener("submit", (event) => event.preventDefault());
  for (const id of ["f-run", "f-bench", "f-subject", "f-wrong", "f-flipped"]) field(id).addEventListener("change", applyFilters);
  field("f-text").addEventListener("input", applyFilters);
  field("dd-prev").addEventListener("click", () => { page -= 1; draw(); });
  field("dd-next").addEventListener("click", () => { page += 1; draw(); });
  applyFilters();
})();
