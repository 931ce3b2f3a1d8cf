#!/usr/bin/env python3
"""Fidelity check: the real `pyconnectwise` client against the sandbox's ConnectWise Manage API.

Uses only pyconnectwise's own machinery: `ConnectWiseManageAPIClient` (companyinfo codebase
discovery, Basic auth `company+public:private`, `clientId` header, https only), the endpoints'
`paginated(page, pageSize, params)` and `PaginatedResponse.all()` (Link-header paging), the `count`
child endpoints, and pyconnectwise's pydantic models (every item is `model_validate`d by the
client itself; a ValidationError fails the check).

Asserts, for companies, agreements, each agreement's additions, and the procurement catalog:
  * the number of items the paginated iterator yields == `GET .../count` (== the size the sandbox
    printed at start-up when run.sh could read it);
  * ids are unique, and the same set comes back with a production page size (1000) and with a
    small page size that forces many pages;
  * `conditions` survive paging (pyconnectwise issue #14);
  * the JSON keys the sandbox sends are all known to pyconnectwise's models (keys the models do not
    know are printed as WARN lines: fields the vendor's spec does not have).

Configuration (environment): CW_HOST (host:port, no scheme), CW_COMPANY, CW_CLIENT_ID,
CW_PUBLIC_KEY, CW_PRIVATE_KEY, CW_EXPECT_CODEBASE (optional), CW_SMALL_PAGE (default 7),
EXPECT_CW_COMPANIES / EXPECT_CW_AGREEMENTS / EXPECT_CW_ADDITIONS / EXPECT_CW_CATALOG (optional,
sizes run.sh asked the sandbox to seed), CHECK_TIMEOUT (seconds, default 240).
TLS trust comes from REQUESTS_CA_BUNDLE (set by run.sh to the sandbox's CA).
"""
from __future__ import annotations

import faulthandler
import inspect
import os
import sys
import time
import traceback
import typing

faulthandler.dump_traceback_later(int(os.environ.get("CHECK_TIMEOUT", "240")), exit=True)

import pydantic  # noqa: E402
from pyconnectwise import ConnectWiseManageAPIClient  # noqa: E402
from pyconnectwise.models.base.connectwise_model import ConnectWiseModel  # noqa: E402
from pyconnectwise.models.manage import Addition, Agreement, CatalogItem, Company  # noqa: E402

FAILURES: list[str] = []
WARNINGS: list[str] = []


def fail(msg: str) -> None:
    FAILURES.append(msg)
    print(f"  FAIL: {msg}", flush=True)


def ok(msg: str) -> None:
    print(f"  ok: {msg}", flush=True)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"check_pyconnectwise: missing environment variable {name}")
    return value


# --- unknown-key detection against pyconnectwise's models --------------------------------------

def _model_args(annotation) -> list[type[ConnectWiseModel]]:
    found = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        if inspect.isclass(a) and issubclass(a, ConnectWiseModel):
            found.append(a)
        stack.extend(typing.get_args(a))
    return found


def unknown_keys(model: type[ConnectWiseModel], data, path: str, out: set[str]) -> None:
    if not isinstance(data, dict):
        return
    by_alias = {}
    for name, field in model.model_fields.items():
        by_alias[field.alias or name] = field
        by_alias.setdefault(name, field)
    for key, value in data.items():
        field = by_alias.get(key)
        if field is None:
            out.add(f"{path}.{key}")
            continue
        models = _model_args(field.annotation)
        if not models:
            continue
        sub = models[0]
        if isinstance(value, dict):
            unknown_keys(sub, value, f"{path}.{key}", out)
        elif isinstance(value, list):
            for v in value:
                unknown_keys(sub, v, f"{path}.{key}[]", out)


# --- paging through pyconnectwise ----------------------------------------------------------------

def walk_pages(endpoint, model, page_size: int, params=None, label: str = "") -> tuple[list, int, set[str]]:
    """Pages with pyconnectwise's own PaginatedResponse (paginated() + get_next_page(), the loop
    that .all() runs), and also inspects each raw page for keys the model does not know."""
    pages = 0
    items = []
    extra: set[str] = set()
    resp = endpoint.paginated(1, page_size, dict(params) if params else None)
    while resp.has_data:
        pages += 1
        for raw in resp.response.json():
            unknown_keys(model, raw, model.__name__, extra)
        items.extend(resp.data)
        if pages > 10000:
            raise RuntimeError(f"{label}: more than 10000 pages, paging does not terminate")
        resp.get_next_page()
    return items, pages, extra


def all_items(endpoint, page_size: int, params=None) -> list:
    """The plain public iterator: `paginated(1, n).all()`."""
    return list(endpoint.paginated(1, page_size, dict(params) if params else None).all())


def check_ids(label: str, items) -> set[int]:
    ids = [i.id for i in items]
    if any(i is None for i in ids):
        fail(f"{label}: {sum(i is None for i in ids)} item(s) without id")
    unique = {i for i in ids if i is not None}
    if len(unique) != len(ids):
        fail(f"{label}: {len(ids) - len(unique)} duplicate id(s) across pages")
    return unique


def expect_env_size(label: str, name: str, got: int) -> None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return
    if int(raw) != got:
        fail(f"{label}: the sandbox was started to seed {raw} but the client read {got}")
    else:
        ok(f"{label}: matches the seeded size {raw}")


def guarded(label: str, fn, *args):
    """Runs one section; an exception (HTTP error, pydantic ValidationError) fails that section only."""
    try:
        return fn(*args)
    except pydantic.ValidationError as exc:
        fail(f"{label}: pyconnectwise model validation error: {exc}")
    except Exception as exc:  # noqa: BLE001
        resp = getattr(exc, "response", None)
        detail = ""
        if resp is not None:
            detail = f" [HTTP {resp.status_code} {resp.request.method} {resp.url} body={resp.text[:500]!r}]"
        traceback.print_exc()
        fail(f"{label}: {type(exc).__name__}: {str(exc)[:300]}{detail}")
    return None


def connect() -> ConnectWiseManageAPIClient:
    client = ConnectWiseManageAPIClient(
        env("CW_COMPANY", "sandbox"),
        env("CW_HOST"),
        env("CW_CLIENT_ID", "sync365-sandbox-client-id"),
        env("CW_PUBLIC_KEY", "FullAccessPub001"),
        env("CW_PRIVATE_KEY", "FullAccessPriv01"),
    )
    ok(f"companyinfo gave codebase {client.codebase!r}; API root {client._get_url()}")
    want_codebase = os.environ.get("CW_EXPECT_CODEBASE")
    if want_codebase and client.codebase != want_codebase:
        fail(f"codebase: expected {want_codebase!r}, got {client.codebase!r}")
    return client


def system_info(client) -> None:
    info = client.system.info.get()
    ok(f"system/info parsed: version={info.version!r} isCloud={info.is_cloud}")


def list_section(label, endpoint, model, env_name, small):
    count = endpoint.count.get().count
    items_big, pages_big, extra = walk_pages(endpoint, model, 1000, label=label)
    ids_big = check_ids(f"{label} pageSize=1000", items_big)
    items_small = all_items(endpoint, small)
    ids_small = check_ids(f"{label} pageSize={small}", items_small)
    expected_pages = max(1, -(-count // small))
    print(f"  {label}: count endpoint {count}; pageSize=1000 -> {len(items_big)} in {pages_big} page(s); "
          f"pageSize={small} -> {len(items_small)} (expect {expected_pages} pages)", flush=True)
    if len(items_big) != count:
        fail(f"{label}: pageSize=1000 iterator yielded {len(items_big)} items, /count says {count}")
    if len(items_small) != count:
        fail(f"{label}: pageSize={small} iterator yielded {len(items_small)} items, /count says {count}")
    if ids_big != ids_small:
        fail(f"{label}: page size {small} and 1000 returned different id sets "
             f"(only in 1000: {sorted(ids_big - ids_small)[:5]}, only in {small}: {sorted(ids_small - ids_big)[:5]})")
    if count == 0:
        fail(f"{label}: the sandbox seeded nothing, so this check proves nothing")
    if len(items_big) == count and len(items_small) == count and ids_big == ids_small and count:
        ok(f"{label}: {count} items through pyconnectwise paging, all parsed into {model.__name__}")
    for key in sorted(extra):
        WARNINGS.append(f"{label}: key {key} is not in pyconnectwise's {model.__name__} model")
    expect_env_size(label, env_name, count)
    return items_big


def conditions_section(client, small) -> None:
    # conditions must survive paging (pyconnectwise issue #14: conditions lost between pages)
    cond = {"conditions": "deletedFlag=false"}
    count_cond = client.company.companies.count.get(params=dict(cond)).count
    items_cond = all_items(client.company.companies, small, cond)
    if len(items_cond) != count_cond:
        fail(f"company/companies?conditions=deletedFlag=false: iterator {len(items_cond)} vs count {count_cond}")
    elif any(getattr(c, "deleted_flag", False) for c in items_cond):
        fail("company/companies?conditions=deletedFlag=false returned deleted companies")
    else:
        ok(f"conditions kept across {max(1, -(-count_cond // small))} pages ({count_cond} non-deleted companies)")


def additions_section(client, agreements) -> None:
    total_additions = 0
    extra_add: set[str] = set()
    bad_parent = 0
    mismatches = []
    busiest = None
    for agreement in agreements:
        ep = client.finance.agreements.id(agreement.id).additions
        count = ep.count.get().count
        items, _pages, extra = walk_pages(ep, Addition, 1000, label=f"agreement {agreement.id} additions")
        extra_add |= extra
        if len(items) != count:
            mismatches.append((agreement.id, len(items), count))
        check_ids(f"finance/agreements/{agreement.id}/additions", items)
        bad_parent += sum(1 for a in items if a.agreement_id is not None and a.agreement_id != agreement.id)
        total_additions += len(items)
        if busiest is None or count > busiest[1]:
            busiest = (agreement.id, count)
    # the agreement with the most additions, walked with page size 2 as well
    if busiest and busiest[1] > 2:
        small_add = all_items(client.finance.agreements.id(busiest[0]).additions, 2)
        if len(small_add) != busiest[1]:
            fail(f"finance/agreements/{busiest[0]}/additions pageSize=2: {len(small_add)} vs count {busiest[1]}")
        else:
            ok(f"finance/agreements/{busiest[0]}/additions: {busiest[1]} additions with pageSize=2")
    for aid, got, count in mismatches[:10]:
        fail(f"finance/agreements/{aid}/additions: iterator {got} vs count {count}")
    if bad_parent:
        fail(f"{bad_parent} addition(s) whose agreementId is not the agreement they were listed under")
    for key in sorted(extra_add):
        WARNINGS.append(f"additions: key {key} is not in pyconnectwise's Addition model")
    if total_additions == 0:
        fail("no agreement has any addition, so additions paging proves nothing")
    if not mismatches:
        ok(f"{total_additions} additions across {len(agreements)} agreements, all parsed into Addition")
    expect_env_size("additions (all agreements)", "EXPECT_CW_ADDITIONS", total_additions)


def run() -> None:
    small = int(env("CW_SMALL_PAGE", "7"))
    t0 = time.monotonic()
    client = guarded("companyinfo / client construction", connect)
    if client is None:
        return
    guarded("system/info", system_info, client)
    agreements = None
    for label, endpoint, model, env_name in [
        ("company/companies", client.company.companies, Company, "EXPECT_CW_COMPANIES"),
        ("finance/agreements", client.finance.agreements, Agreement, "EXPECT_CW_AGREEMENTS"),
        ("procurement/catalog", client.procurement.catalog, CatalogItem, "EXPECT_CW_CATALOG"),
    ]:
        items = guarded(label, list_section, label, endpoint, model, env_name, small)
        if label == "finance/agreements":
            agreements = items
    guarded("conditions across pages", conditions_section, client, small)
    if agreements is None:
        fail("additions: not checked, the agreements could not be listed")
    else:
        guarded("additions", additions_section, client, agreements)
    print(f"  elapsed {time.monotonic() - t0:.1f}s", flush=True)


def main() -> int:
    run()
    for w in WARNINGS:
        print(f"  WARN: {w}")
    if FAILURES:
        print(f"pyconnectwise: FAILED ({len(FAILURES)} problem(s))")
        return 1
    print("pyconnectwise: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
