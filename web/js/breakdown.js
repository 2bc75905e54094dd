// breakdown.js -- the breakdown panel: the view's history counted per feed and per type, one
// table each, from the server's terms aggregations (summary.js asks for them). A row per key,
// largest first, with its count and a bar in proportion to the largest; what the aggregation
// left out shows as one "others" row.

function row(label, count, max) {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = label;
  const num = document.createElement('td');
  num.className = 'num';
  num.textContent = count.toLocaleString();
  const barCell = document.createElement('td');
  barCell.className = 'share';
  barCell.setAttribute('aria-hidden', 'true');
  const bar = document.createElement('span');
  bar.style.width = `${max ? Math.max(1, Math.round((count / max) * 100)) : 0}%`;
  barCell.append(bar);
  tr.append(th, num, barCell);
  return tr;
}

function messageRow(text) {
  const tr = document.createElement('tr');
  const td = document.createElement('td');
  td.colSpan = 3;
  td.className = 'muted';
  td.textContent = text;
  tr.append(td);
  return tr;
}

// A terms aggregation's answer -> table rows.
function termsRows(agg) {
  const buckets = Array.isArray(agg?.buckets) ? agg.buckets : [];
  const others = Number(agg?.sum_other_doc_count) || 0;
  const max = Math.max(0, others, ...buckets.map((b) => Number(b.doc_count) || 0));
  const rows = buckets.map((b) => {
    const tr = row(String(b.key), Number(b.doc_count) || 0, max);
    tr.dataset.key = String(b.key);
    return tr;
  });
  if (others > 0) rows.push(Object.assign(row('others', others, max), { className: 'others' }));
  if (rows.length === 0) rows.push(messageRow('none'));
  return rows;
}

export class Breakdown {
  // perFeed, perType: the <tbody> of each table; note: an element for the line above them.
  constructor({ perFeed, perType, note }) {
    this.perFeed = perFeed;
    this.perType = perType;
    this.note = note;
  }

  // aggregations: the summary search's (per_feed, per_type); total: its hits.total.value.
  show(aggregations, total, asOf) {
    this.perFeed.replaceChildren(...termsRows(aggregations?.per_feed));
    this.perType.replaceChildren(...termsRows(aggregations?.per_type));
    this.note.textContent = `${Number(total).toLocaleString()} activities in the history of this view, as of ${asOf}`;
    this.note.dataset.total = String(total);
  }

  // Empty tables and a line saying why.
  clear(text) {
    this.perFeed.replaceChildren(messageRow('—'));
    this.perType.replaceChildren(messageRow('—'));
    this.note.textContent = text;
    delete this.note.dataset.total;
  }
}
