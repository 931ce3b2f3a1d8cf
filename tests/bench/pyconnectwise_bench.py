"""Reference timing: pyconnectwise fetching the same companies and agreements from the sandbox.

pyconnectwise only speaks https, so start the sandbox with a generated CA first:

    sync365 sandbox --https --ca-out /tmp/cwca --bind 127.0.0.1:8443 \
        --companies 10000 --agreements 20000 --products 3000 [--latency-ms 30]

then, in a throwaway venv:

    python3 -m venv /tmp/pycw && /tmp/pycw/bin/pip install pyconnectwise
    REQUESTS_CA_BUNDLE=/tmp/cwca/sandbox-ca.pem /tmp/pycw/bin/python \
        tests/bench/pyconnectwise_bench.py 127.0.0.1:8443
"""

import resource
import sys
import time

from pyconnectwise import ConnectWiseManageAPIClient

# The sandbox's default full-access member and vendor clientId.
COMPANY = "sandbox"
CLIENT_ID = "sync365-sandbox-client-id"
PUBLIC_KEY = "FullAccessPub001"
PRIVATE_KEY = "FullAccessPriv01"


def count_all(endpoint, **params):
    """Walks every page of 1000 the way pyconnectwise does (sequentially, following Link)."""
    return sum(1 for _ in endpoint.paginated(1, 1000, params).all())


def main() -> None:
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8443"
    client = ConnectWiseManageAPIClient(COMPANY, host, CLIENT_ID, PUBLIC_KEY, PRIVATE_KEY)
    started = time.monotonic()
    companies = count_all(client.company.companies, conditions="deletedFlag=false")
    agreements = count_all(client.finance.agreements)
    took = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"pyconnectwise: {companies} companies, {agreements} agreements in {took:.2f} s, peak RSS {peak_mib} MiB")


if __name__ == "__main__":
    main()
