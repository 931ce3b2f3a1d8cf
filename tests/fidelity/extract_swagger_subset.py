#!/usr/bin/env python3
"""Extracts from the Autotask Swagger 2.0 document (shared/reference/autotask/v1.json) the part the
swagger check needs: for each entity the sandbox serves, the response schemas of
`POST /V1.0/{Entity}/query`, `/query/count` and `GET /V1.0/{Entity}/{id}`, plus
`ZoneInformationResultModel`, with every definition they reference.

  python3 extract_swagger_subset.py ../../../shared/reference/autotask/v1.json > autotask-swagger-subset.json

run.sh re-runs this when the full document is present and fails if the committed subset drifted.
"""
import hashlib
import json
import sys

ENTITIES = [
    "Companies", "Contacts", "Contracts", "ContractServices", "ContractServiceUnits",
    "ContractServiceBundles", "Services", "ServiceBundles", "Products", "Tickets",
]


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            out.add(ref[len("#/definitions/"):])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main(path):
    raw = open(path, "rb").read()
    doc = json.loads(raw)
    paths = doc["paths"]
    entities = {}
    for e in ENTITIES:
        entities[e] = {
            "query": paths[f"/V1.0/{e}/query"]["post"]["responses"]["200"]["schema"]["$ref"],
            "queryGet": paths[f"/V1.0/{e}/query"]["get"]["responses"]["200"]["schema"]["$ref"],
            "count": paths[f"/V1.0/{e}/query/count"]["post"]["responses"]["200"]["schema"]["$ref"],
            "item": paths["/V1.0/%s/{id}" % e]["get"]["responses"]["200"]["schema"]["$ref"],
        }
    zone = paths["/V1.0/ZoneInformation"]["get"]["responses"]["200"]["schema"]["$ref"]
    wanted = set()
    for ref in [zone] + [r for e in entities.values() for r in e.values()]:
        refs({"$ref": ref}, wanted)
    done = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        refs(doc["definitions"][name], wanted)
    subset = {
        "_provenance": {
            "what": "Subset of the Autotask PSA REST API Swagger 2.0 document (public vendor API description)",
            "source_file": "shared/reference/autotask/v1.json (see shared/reference/autotask/SOURCE.md)",
            "source_sha256": hashlib.sha256(raw).hexdigest(),
            "info": doc.get("info"),
            "host": doc.get("host"),
            "basePath": doc.get("basePath"),
            "generated_by": "tests/fidelity/extract_swagger_subset.py",
        },
        "entities": entities,
        "zoneInformation": zone,
        "definitions": {k: doc["definitions"][k] for k in sorted(done)},
    }
    json.dump(subset, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
