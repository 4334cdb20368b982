"""``python -m bench [--only NAME ...]``: run the benchmarks and write bench/results/<name>.json.

``python -m bench --report`` prints the stored results as the Markdown table the README shows.
"""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "webhook_ingest": "bench.webhook_ingest",
    "webconnector_throughput": "bench.webconnector_throughput",
    "inventory_pull": "bench.inventory_pull",
    "backfill": "bench.backfill",
    "worker_exit": "bench.worker_exit",
    "denial_of_service": "bench.denial_of_service",
    "first_contact": "bench.first_contact",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this one")
    parser.add_argument("--report", action="store_true", help="print the stored results as Markdown")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, even into a file
    if args.report:
        from bench.report import markdown

        print(markdown())
        return 0
    failed = []
    for name in args.only or list(BENCHMARKS):
        print(f"== {name}")
        try:
            importlib.import_module(BENCHMARKS[name]).run()
        except Exception as exc:  # report and go on with the others
            print(f"!! {name} failed: {type(exc).__name__}: {exc}")
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
