"""test_es_client.py -- the official Elasticsearch Python client 7.17 (Debian's python3-elasticsearch,
unchanged, with its defaults) against the server's Elasticsearch API: info and the product check,
count over index expressions, search (query, size, from, sort, _source, totals, the URL forms),
aggregations against a hand-checked table, msearch, get and exists, a point in time and
helpers.scan while feedsim adds, updates and deletes (each activity of the frozen view exactly
once), mappings and cat indices. Expected values come from feedsim itself (its pages and
/_control/ids), never from the server.

Run by tests/clients/run (ES_URL, SIM_CRM, SIM_EVENTS; see there), with Debian's /usr/bin/python3.
"""
import json
import os
import time
import unittest
import urllib.request
from collections import Counter

from elasticsearch import Elasticsearch, helpers
from elasticsearch.exceptions import NotFoundError, RequestError

ES = os.environ["ES_URL"]
SIM = {"crm": os.environ["SIM_CRM"], "events": os.environ["SIM_EVENTS"]}
T0 = 1704067200000  # 2024-01-01T00:00:00Z in ms: crm's activity n is published T0 + n s
CRM_TYPES = {"Follow": 315, "Announce": 314, "Update": 296, "Like": 295, "Create": 280}  # by hand, seed 1



def fetch(url, method="GET"):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
        return r.read().decode()


def walk(sim):
    """Every activity of a feed, page after page, as the source serves them."""
    items, url = [], sim + "/feed"
    while url:
        page = json.loads(fetch(url))
        items += page["orderedItems"]
        url = page.get("next")
    return items


def source_state(sim):
    """{id: version} of what the source holds now."""
    lines = [line for line in fetch(sim + "/_control/ids").split("\n") if line]
    return {o["id"]: o["version"] for o in map(json.loads, lines)}


def keys_of(state):
    return sorted("%s@%d" % kv for kv in state.items())


es = Elasticsearch(ES, timeout=60)
CRM = walk(SIM["crm"])


def converge(index):
    """Wait until the server holds what the source holds (count and sum of versions)."""
    for _ in range(300):
        state = source_state(SIM[index])
        r = es.search(index=index, size=0, track_total_hits=True,
                      aggs={"v": {"sum": {"field": "feedsim:version"}}})
        if r["hits"]["total"]["value"] == len(state) and r["aggregations"]["v"]["value"] == sum(state.values()):
            return state
        time.sleep(0.2)
    raise AssertionError("the server did not converge on " + index)


def change_events(n):
    for what in ("add", "update", "delete"):
        fetch("%s/_control/%s?n=%d" % (SIM["events"], what, n), method="POST")
    return converge("events")


class Client(unittest.TestCase):
    def test_feedsim_is_what_the_table_says(self):
        self.assertEqual(len(CRM), 1500)
        self.assertEqual(dict(Counter(a["type"] for a in CRM)), CRM_TYPES)

    def test_info(self):
        info = es.info()  # the client's product check ran before this
        self.assertEqual(info["version"]["number"], "8.11.0")
        self.assertEqual(info["version"]["build_flavor"], "default")
        self.assertEqual(info["tagline"], "You Know, for Search")
        self.assertRegex(info["cluster_uuid"], "^[0-9a-f]{32}$")

    def test_count(self):
        n = len(converge("events"))
        self.assertEqual(es.count(index="crm")["count"], 1500)
        self.assertEqual(es.count(index="crm,events*")["count"], 1500 + n)
        self.assertEqual(es.count(index="_all")["count"], 1500 + n)
        self.assertEqual(es.count(index="activities")["count"], 1500 + n)
        self.assertEqual(es.count(index="nothing*")["count"], 0)
        self.assertEqual(es.count(index="crm", body={"query": {"term": {"type": "Like"}}})["count"], CRM_TYPES["Like"])
        with self.assertRaises(NotFoundError) as e:
            es.count(index="crm,nope")
        self.assertEqual(e.exception.error, "index_not_found_exception")

    def test_search(self):
        r = es.search(index="crm", size=2, from_=1, sort="published:desc", _source_includes="id,type")
        self.assertEqual([h["_id"] for h in r["hits"]["hits"]], [CRM[1498]["id"], CRM[1497]["id"]])
        self.assertEqual(r["hits"]["hits"][0]["_source"], {"id": CRM[1498]["id"], "type": CRM[1498]["type"]})
        self.assertEqual(r["hits"]["hits"][0]["sort"][0], T0 + 1498 * 1000)
        self.assertEqual(r["_shards"]["successful"], 1)
        r = es.search(index="crm", query={"range": {"published": {"lt": "2024-01-01T00:01:00Z"}}},
                      sort=[{"published": "asc"}], size=100, _source=False)
        self.assertEqual([h["_id"] for h in r["hits"]["hits"]], [a["id"] for a in CRM[:60]])
        self.assertNotIn("_source", r["hits"]["hits"][0])
        self.assertEqual(es.search(index="crm,events", size=0)["hits"]["total"], {"value": 10000, "relation": "gte"})
        self.assertEqual(es.search(index="crm", size=0, track_total_hits=True)["hits"]["total"]["value"], 1500)
        self.assertEqual(es.search(index="crm", size=0, rest_total_hits_as_int=True)["hits"]["total"], 1500)
        with self.assertRaises(RequestError) as e:
            es.search(index="crm", q="type:Create")
        self.assertIn("Lucene", str(e.exception.info))
        with self.assertRaises(RequestError):
            es.search(index="crm", query={"fuzzy": {"type": "x"}})

    def test_aggregations(self):
        r = es.search(index="crm", size=0, aggs={
            "types": {"terms": {"field": "type"}},
            "per_10m": {"date_histogram": {"field": "published", "fixed_interval": "10m"}},
            "v": {"stats": {"field": "feedsim:version"}},
            "actors": {"cardinality": {"field": "actor.id"}},
            "early": {"date_range": {"field": "published", "ranges": [{"to": "2024-01-01T00:05:00Z"}]}},
            "some": {"filters": {"filters": [{"term": {"type": "Create"}}, {"term": {"type": "Follow"}}]}},
            "newest": {"top_hits": {"size": 2, "sort": {"published": "desc"}, "_source": ["id"]}},
        })
        a = r["aggregations"]
        self.assertEqual({b["key"]: b["doc_count"] for b in a["types"]["buckets"]}, CRM_TYPES)
        self.assertEqual([(b["key"], b["doc_count"]) for b in a["per_10m"]["buckets"]],
                         [(T0, 600), (T0 + 600000, 600), (T0 + 1200000, 300)])
        self.assertEqual(a["v"], {"count": 1500, "min": 1, "max": 1, "avg": 1, "sum": 1500})
        self.assertEqual(a["actors"]["value"], len({x["actor"]["id"] for x in CRM}))
        self.assertEqual(a["early"]["buckets"][0]["doc_count"], 300)
        self.assertEqual([b["doc_count"] for b in a["some"]["buckets"]], [280, 315])
        self.assertEqual([h["_id"] for h in a["newest"]["hits"]["hits"]], [CRM[1499]["id"], CRM[1498]["id"]])
        with self.assertRaises(RequestError) as e:
            es.search(index="crm", aggs={"p": {"percentiles": {"field": "feedsim:version"}}})
        self.assertIn("[p] aggregation type [percentiles] is not supported", str(e.exception.info))

    def test_msearch(self):
        r = es.msearch(body=[{"index": "crm"}, {"size": 0, "query": {"term": {"type": "Update"}}},
                             {"index": "nope"}, {},
                             {"index": "crm"}, {"sort": "nonsense"}])
        s = r["responses"]
        self.assertEqual([x["status"] for x in s], [200, 404, 400])
        self.assertEqual(s[0]["hits"]["total"]["value"], CRM_TYPES["Update"])
        self.assertEqual(s[1]["error"]["type"], "index_not_found_exception")

    def test_get(self):
        d = es.get(index="crm", id=CRM[42]["id"])
        self.assertTrue(d["found"])
        self.assertEqual((d["_index"], d["_id"], d["_version"]), ("crm", CRM[42]["id"], 1))
        self.assertEqual(d["_source"], CRM[42])
        self.assertTrue(es.exists(index="crm", id=CRM[0]["id"]))
        self.assertFalse(es.exists(index="crm", id="urn:no:such"))
        with self.assertRaises(NotFoundError):
            es.get(index="crm", id="urn:no:such")

    def collect(self, seen, hits):
        for h in hits:
            key = "%s@%d" % (h["_id"], h["_source"]["feedsim:version"])
            self.assertNotIn(key, seen)
            seen.add(key)

    def test_point_in_time_while_feedsim_changes(self):
        before = keys_of(converge("events"))
        pit = es.open_point_in_time(index="events", keep_alive="1m")["id"]
        seen, after, page = set(), None, 0
        while True:
            body = {"pit": {"id": pit, "keep_alive": "1m"}, "size": 1000, "sort": [{"published": "asc"}],
                    "_source": ["feedsim:version"]}
            if after:
                body["search_after"] = after
            r = es.search(body=body)
            self.assertEqual(r["pit_id"], pit)
            if not r["hits"]["hits"]:
                break
            self.collect(seen, r["hits"]["hits"])
            after = r["hits"]["hits"][-1]["sort"]
            if page == 0:
                self.assertNotEqual(keys_of(change_events(250)), before)
            page += 1
        self.assertEqual(sorted(seen), before, "each activity of the frozen view, exactly once")
        self.assertEqual(es.close_point_in_time(body={"id": pit}), {"succeeded": True, "num_freed": 1})
        with self.assertRaises(NotFoundError) as e:
            es.search(body={"pit": {"id": pit}})
        self.assertEqual(e.exception.error, "search_context_missing_exception")

    def test_scan_while_feedsim_changes(self):
        before = keys_of(converge("events"))
        seen, n = set(), 0
        for hit in helpers.scan(es, index="events"):  # scroll=5m, size=1000, sort _doc, clear_scroll
            self.collect(seen, [hit])
            n += 1
            if n == 1:
                change_events(150)
        self.assertEqual(sorted(seen), before, "each activity of the frozen view, exactly once")

    def test_mapping_and_cat(self):
        p = es.indices.get_mapping(index="crm")["crm"]["mappings"]["properties"]
        self.assertEqual(p["published"]["type"], "date")
        self.assertEqual([p[k]["type"] for k in ("id", "type", "feed")], ["keyword"] * 3)
        self.assertEqual(p["actor"]["properties"]["id"]["type"], "keyword")
        self.assertEqual(p["object"]["properties"]["content"]["type"], "text")
        rows = {r["index"]: r for r in es.cat.indices(format="json")}
        self.assertEqual(rows["crm"]["docs.count"], "1500")
        self.assertIn("events", rows)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")  # 7.17 warns about body= on every such call
