"""`python -m reslib.evidence [key ...]`: run the claims, print a table, exit 1 if one fails."""

import argparse
import sys

from reslib.evidence import CLAIMS, run, table

parser = argparse.ArgumentParser(prog="python -m reslib.evidence", description=__doc__)
parser.add_argument("keys", nargs="*", help="claim keys or prefixes (default: every claim)")
parser.add_argument("--list", action="store_true", help="list the claims without running them")
args = parser.parse_args()
if args.list:
    for key, c in CLAIMS.items():
        print(f"{key}: {c.says}")
    sys.exit(0)
rows = run(*args.keys)
print("\n" + table(rows))
print(
    f"\n{sum(r.holds for r in rows)} of {len(rows)} claims hold; {sum(r.seconds for r in rows):.0f} s in all"
)
sys.exit(0 if all(r.holds for r in rows) else 1)
