// summary.js -- asks the server about the view's history and hands the answers to the history
// chart and the breakdown panel: first a search with the terms aggregations (per feed, per
// type) and the first and last published times, then, with the bar width those allow, a
// date_histogram. Both with the token; a refusal (401, 403) or an error shows in both places.
// A new load cancels the one still running.

import { requestJson } from './api.js';
import { isRefusal, refusalText } from './auth.js';
import { clockText } from './format.js';
import { hasHistory, historyQuery, summarySearch, histogramSearch, historyAxis } from './aggquery.js';

const SEARCH_URL = '_search';
const USE = 'search (the history chart and the breakdown)';

export class RangeSummary {
  // chart: a HistoryChart; breakdown: a Breakdown; token(): the current access token.
  constructor({ chart, breakdown, token }) {
    this.chart = chart;
    this.breakdown = breakdown;
    this.token = token;
    this.running = null;     // AbortController of the load in progress
  }

  // The history of `view` as the stream opened at `connectedMs` replays it.
  async load(view, connectedMs) {
    this.running?.abort();
    const ctl = new AbortController();
    this.running = ctl;
    if (!hasHistory(view)) return this.clear('live only: this view has no history');
    let query;
    try {
      query = historyQuery(view, connectedMs);
    } catch {
      return this.clear('no history: the query is not valid JSON');
    }
    this.clear('loading the history…');
    try {
      await this.fetchAndShow(view, connectedMs, query, ctl.signal);
    } catch (err) {
      if (!ctl.signal.aborted) this.clear(this.failureText(err));
    } finally {
      if (this.running === ctl) this.running = null;
    }
  }

  async fetchAndShow(view, connectedMs, query, signal) {
    const token = this.token();
    const summary = await requestJson(SEARCH_URL, { token, body: summarySearch(query), signal });
    const aggs = summary.aggregations ?? {};
    this.breakdown.show(aggs, summary.hits?.total?.value ?? 0, clockText(new Date()));
    const axis = historyAxis(view, connectedMs, Date.now(), aggs.first?.value, aggs.last?.value);
    if (!axis) {
      this.chart.clear('history: no activities in this view');
      return;
    }
    const histogram = await requestJson(SEARCH_URL, { token, body: histogramSearch(query, axis), signal });
    this.chart.show(histogram.aggregations?.rate?.buckets ?? [], axis);
  }

  failureText(err) {
    if (isRefusal(err.status)) return refusalText(err.status, USE, Boolean(this.token()));
    if (err.status) return `The history is unavailable (HTTP ${err.status}): ${err.message}`;
    return `The history is unavailable: ${err.message}`;
  }

  clear(text) {
    this.chart.clear(text);
    this.breakdown.clear(text);
  }
}
