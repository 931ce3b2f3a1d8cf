#!/usr/bin/env python3
"""Fidelity check: every Autotask entity the sandbox serves, validated against the vendor's Swagger.

For each entity (Companies, Contacts, Contracts, ContractServices, ContractServiceUnits,
ContractServiceBundles, Services, ServiceBundles, Products, Tickets) it runs
`POST /V1.0/{Entity}/query` with a match-all filter, follows `pageDetails.nextPageUrl` with POST and
the same body until null, and validates
  * the envelope against `QueryActionResult[...]` (`items`, `pageDetails` = `PagingModel`), plus what
    the real API does: all four pageDetails keys present, count == len(items), requestCount == 500
    (MaxRecords omitted), nextPageUrl null only on the last page, absolute and on loopback;
  * every item against the entity's model (`CompanyModel`, ...), `$ref`s resolved;
  * the total against `POST /V1.0/{Entity}/query/count` (`QueryCountResultModel`);
  * `GET /V1.0/{Entity}/{id}` of the first item against `ItemQueryResultModel[...]`;
  * the zone lookup answer against `ZoneInformationResultModel`.

How the Swagger 2.0 schemas are read (documented so a failure can be judged):
  * Swagger 2.0 cannot say "nullable", and the live API sends null for every unset field
    (reference brief section 9), so every property of an entity model also accepts null.
  * No model lists `required`; a property the Swagger has but the sandbox omits is printed as a WARN
    (live captures carry every field, null or not), not a failure.
  * A key the Swagger does not define is a failure (additionalProperties false), and so is
    `soapParentPropertyId`, which the Swagger lists but live JSON never carries.
  * Formats are enforced: int32 / int64 ranges, `double` is a JSON number, `date-time` is RFC 3339
    with a zone (the live API sends UTC with `Z`).

Schemas: tests/fidelity/autotask-swagger-subset.json (extracted from shared/reference/autotask/v1.json
by extract_swagger_subset.py).

Environment: AT_ZONE_LOOKUP_BASE (e.g. https://127.0.0.1:PORT/ATServicesRest/), AT_USER, AT_SECRET,
AT_CODE, SSL_CERT_FILE (CA for https), AT_ENTITIES (optional subset), CHECK_TIMEOUT.
"""
from __future__ import annotations

import copy
import faulthandler
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

faulthandler.dump_traceback_later(int(os.environ.get("CHECK_TIMEOUT", "240")), exit=True)

import jsonschema  # noqa: E402
from jsonschema import Draft4Validator, FormatChecker  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAILURES: list[str] = []
WARNINGS: list[str] = []
MATCH_ALL = {"filter": [{"op": "gte", "field": "id", "value": 0}]}
FORBIDDEN = {"soapParentPropertyId"}
MAX_ERRORS_PER_ENTITY = 8


def fail(msg: str) -> None:
    FAILURES.append(msg)
    print(f"  FAIL: {msg}", flush=True)


def ok(msg: str) -> None:
    print(f"  ok: {msg}", flush=True)


# --- schema preparation ------------------------------------------------------------------------------

def nullable(prop: dict) -> dict:
    prop = {k: v for k, v in prop.items() if k != "readOnly"}
    if "$ref" in prop:
        return {"anyOf": [{"$ref": prop["$ref"]}, {"type": "null"}]}
    t = prop.get("type")
    if isinstance(t, str):
        prop["type"] = [t, "null"]
    return prop


def build_definitions(defs: dict) -> dict:
    out = {}
    for name, schema in defs.items():
        s = copy.deepcopy(schema)
        props = s.get("properties", {})
        is_entity = name.endswith("Model") and not name.startswith(("QueryActionResult", "ItemQueryResultModel"))
        if is_entity and name not in ("PagingModel", "QueryCountResultModel", "ZoneInformationResultModel"):
            s["properties"] = {k: nullable(v) for k, v in props.items() if k not in FORBIDDEN}
            s["additionalProperties"] = False
        elif name == "UserDefinedField":
            s["properties"] = {k: nullable(v) for k, v in props.items()}
            s["additionalProperties"] = False
            s["required"] = ["name", "value"]
        elif name == "PagingModel":
            s["properties"] = {
                "count": props["count"], "requestCount": {k: v for k, v in props["requestCount"].items() if k != "readOnly"},
                "prevPageUrl": nullable(props["prevPageUrl"]), "nextPageUrl": nullable(props["nextPageUrl"]),
            }
            s["required"] = ["count", "requestCount", "prevPageUrl", "nextPageUrl"]
            s["additionalProperties"] = False
        elif name.startswith("QueryActionResult"):
            s["required"] = ["items", "pageDetails"]
            s["additionalProperties"] = False
        elif name.startswith("ItemQueryResultModel"):
            s["required"] = ["item"]
            s["additionalProperties"] = False
        elif name in ("QueryCountResultModel", "ZoneInformationResultModel"):
            s["properties"] = {k: {kk: vv for kk, vv in v.items() if kk != "readOnly"} for k, v in props.items()}
            s["required"] = sorted(props)
            s["additionalProperties"] = False
        out[name] = s
    return out


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("int32")
def _int32(v):
    return not isinstance(v, int) or isinstance(v, bool) or -(2**31) <= v < 2**31


@FORMATS.checks("int64")
def _int64(v):
    return not isinstance(v, int) or isinstance(v, bool) or -(2**63) <= v < 2**63


@FORMATS.checks("double")
def _double(v):
    return True  # "type": "number" already holds it


@FORMATS.checks("date-time")
def _datetime(v):
    return not isinstance(v, str) or bool(RFC3339.match(v))


class Schemas:
    def __init__(self, path: str):
        doc = json.load(open(path))
        self.entities = doc["entities"]
        self.zone_ref = doc["zoneInformation"]
        self.raw_defs = doc["definitions"]
        self.root = {"definitions": build_definitions(doc["definitions"])}

    def validator(self, ref: str) -> Draft4Validator:
        schema = dict(self.root)
        schema["$ref"] = ref
        return Draft4Validator(schema, format_checker=FORMATS)

    def model_of(self, query_ref: str) -> str:
        name = query_ref.split("/")[-1]
        return self.raw_defs[name]["properties"]["items"]["items"]["$ref"].split("/")[-1]


# --- HTTP ----------------------------------------------------------------------------------------------

class Http:
    def __init__(self, user, secret, code):
        cafile = os.environ.get("SSL_CERT_FILE")
        self.ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
        self.headers = {"ApiIntegrationCode": code, "UserName": user, "Secret": secret,
                        "Content-Type": "application/json", "Accept": "application/json"}
        self.count = 0

    def call(self, method: str, url: str, body=None, auth=True):
        host = urllib.parse.urlsplit(url).hostname or ""
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            raise RuntimeError(f"refusing non-loopback URL {url}")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=self.headers if auth else {})
        self.count += 1
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.ctx) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            return e.code, parsed


def describe(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return f"{where}: {err.message[:300]}"


def check_entity(http: Http, schemas: Schemas, api_root: str, entity: str) -> None:
    refs = schemas.entities[entity]
    model = schemas.model_of(refs["query"])
    envelope = schemas.validator(refs["query"])
    item_v = schemas.validator(refs["item"])
    count_v = schemas.validator(refs["count"])
    props = set(schemas.raw_defs[model]["properties"]) - FORBIDDEN
    errors: list[str] = []
    missing: dict[str, int] = {}

    status, counted = http.call("POST", f"{api_root}V1.0/{entity}/query/count", MATCH_ALL)
    if status != 200:
        fail(f"{entity}: POST query/count -> HTTP {status} {str(counted)[:200]}")
        return
    for e in count_v.iter_errors(counted):
        errors.append(f"query/count {describe(e)}")
    expected = counted.get("queryCount") if isinstance(counted, dict) else None

    url = f"{api_root}V1.0/{entity}/query"
    total, pages, ids, first_id = 0, 0, set(), None
    while url:
        pages += 1
        status, page = http.call("POST", url, MATCH_ALL)
        if status != 200:
            fail(f"{entity}: POST {url} -> HTTP {status} {str(page)[:200]}")
            return
        for e in envelope.iter_errors(page):
            errors.append(f"page {pages} {describe(e)}")
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            break
        items = page["items"]
        pd = page.get("pageDetails") or {}
        for it in items:
            if isinstance(it, dict):
                missing_here = props - set(it)
                for k in missing_here:
                    missing[k] = missing.get(k, 0) + 1
                if first_id is None:
                    first_id = it.get("id")
                if it.get("id") in ids:
                    errors.append(f"page {pages}: id {it.get('id')} repeated")
                ids.add(it.get("id"))
        total += len(items)
        if pd.get("count") != len(items):
            errors.append(f"page {pages}: pageDetails.count {pd.get('count')} != {len(items)} items")
        if pd.get("requestCount") != 500:
            errors.append(f"page {pages}: pageDetails.requestCount {pd.get('requestCount')}, expected 500 (MaxRecords omitted)")
        nxt = pd.get("nextPageUrl")
        if nxt:
            if len(items) != 500:
                errors.append(f"page {pages}: nextPageUrl set on a page of {len(items)} (< 500) items")
            if not nxt.lower().startswith(api_root.lower()):
                errors.append(f"page {pages}: nextPageUrl {nxt} is not under the zone URL {api_root}")
        if pages > 200:
            errors.append("paging does not terminate")
            break
        url = nxt
    if expected is not None and total != expected:
        errors.append(f"query returned {total} items over {pages} page(s), query/count says {expected}")

    if first_id is not None:
        status, one = http.call("GET", f"{api_root}V1.0/{entity}/{first_id}")
        if status != 200:
            errors.append(f"GET {entity}/{first_id} -> HTTP {status} {str(one)[:200]}")
        else:
            for e in item_v.iter_errors(one):
                errors.append(f"GET {entity}/{first_id} {describe(e)}")
    if total == 0:
        errors.append("the sandbox served no items, so there is nothing to validate")

    # de-duplicate item errors that repeat on every item (same path shape + message)
    seen, shown = {}, []
    for err in errors:
        key = re.sub(r"items/\d+", "items/N", re.sub(r"page \d+ ", "", err))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 1:
            shown.append(key)
    for key in shown[:MAX_ERRORS_PER_ENTITY]:
        n = seen[key]
        fail(f"{entity} ({model}): {key}" + (f"  [x{n}]" if n > 1 else ""))
    if len(shown) > MAX_ERRORS_PER_ENTITY:
        fail(f"{entity}: ... and {len(shown) - MAX_ERRORS_PER_ENTITY} more distinct problem(s)")
    if missing:
        WARNINGS.append(f"{entity}: Swagger fields never sent: {', '.join(sorted(missing))}")
    if not errors:
        ok(f"{entity}: {total} items over {pages} page(s) valid against {model}; count {expected}; GET by id valid")


def main() -> int:
    base = os.environ["AT_ZONE_LOOKUP_BASE"]
    if not base.endswith("/"):
        base += "/"
    schemas = Schemas(os.path.join(HERE, "autotask-swagger-subset.json"))
    user = os.environ.get("AT_USER", "sbxfullapi00001@SANDBOX.EXAMPLE")
    http = Http(user, os.environ.get("AT_SECRET", "Full*Secret#001"), os.environ.get("AT_CODE", "SYNC365SANDBOXCODE"))
    t0 = time.monotonic()
    try:
        status, zone = http.call("GET", f"{base}V1.0/zoneInformation?user={urllib.parse.quote(user, safe='')}", auth=False)
        if status != 200:
            fail(f"zoneInformation -> HTTP {status} {str(zone)[:200]}")
            return finish()
        zerrs = [describe(e) for e in schemas.validator(schemas.zone_ref).iter_errors(zone)]
        for z in zerrs:
            fail(f"zoneInformation (ZoneInformationResultModel): {z}")
        api_root = zone.get("url") or ""
        if not api_root.endswith("/"):
            fail(f"zoneInformation url {api_root!r} lacks the trailing slash the real API sends")
            api_root += "/"
        if not zerrs:
            ok(f"zoneInformation valid: {zone}")
        only = [e for e in os.environ.get("AT_ENTITIES", "").split(",") if e]
        for entity in only or list(schemas.entities):
            try:
                check_entity(http, schemas, api_root, entity)
            except Exception as exc:  # noqa: BLE001
                fail(f"{entity}: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001
        fail(f"{type(exc).__name__}: {exc}")
    print(f"  {http.count} requests, elapsed {time.monotonic() - t0:.1f}s")
    return finish()


def finish() -> int:
    for w in WARNINGS:
        print(f"  WARN: {w}")
    if FAILURES:
        print(f"autotask-swagger: FAILED ({len(FAILURES)} problem(s))")
        return 1
    print("autotask-swagger: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
