#!/usr/bin/env python3
"""Builds the pool the briefs evaluation set is judged from (see README.md beside this file).

Targets: 40 YC companies, stratified by subindustry (the 20 largest subindustries, two targets
each), chosen by a seeded hash among active companies with a one-liner and a description of at
least 20 words. Pool: the union of the top 10 of each discovery method (lexical, structured,
combined), so no method is favoured; candidates are listed by name, without the method that
proposed them, for blind judging.

Usage: make_pool.py <server binary> <tenant with the YC data> > pool.json
"""
import collections, gzip, hashlib, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', '..', 'demo', 'yc-companies', 'yc-companies-all.jsonl.gz')
METHODS = ['lexical', 'structured', 'combined']


def facts(c):
    return {k: c.get(k) for k in ['name', 'one_liner', 'long_description', 'subindustry', 'tags', 'stage', 'status', 'team_size']}


def main(server, tenant):
    companies = [json.loads(line) for line in gzip.open(DATA, 'rt')]
    by_name = {}
    for c in companies:
        by_name.setdefault(c['name'], c)
    eligible = [c for c in companies if c.get('status') == 'Active' and c.get('one_liner')
                and len((c.get('long_description') or '').split()) >= 20 and list(by_name).count(c['name']) == 1]
    by_segment = collections.defaultdict(list)
    for c in eligible:
        by_segment[c['subindustry']].append(c)
    largest = sorted(by_segment, key=lambda s: (-len(by_segment[s]), s))[:20]
    targets = []
    for segment in largest:
        ranked = sorted(by_segment[segment], key=lambda c: hashlib.sha256(('briefs-eval-1:' + c['name']).encode()).hexdigest())
        targets.extend(ranked[:2])
    pool = []
    for target in targets:
        proposed = set()
        for method in METHODS:
            out = subprocess.run([server, 'briefs', 'competitors', '--tenant', tenant, '--company', target['name'],
                                  '--method', method, '--limit', '10', '--json'], capture_output=True, text=True, check=True)
            document = json.loads(out.stdout)
            proposed.update(c['company']['name'] for c in document['competitors'])
        candidates = [facts(by_name[n]) for n in sorted(proposed) if n in by_name]
        pool.append({'target': facts(target), 'candidates': candidates})
    json.dump({'targets': pool}, sys.stdout, indent=1, ensure_ascii=False)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
