"""Daily depot statistics: parcels scanned per depot and the slowest hop of the day."""
import csv
import sys
from collections import Counter
from datetime import datetime

SLOW_HOP_HOURS = 20


def read_scans(path):
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            yield row["parcel_id"], row["depot_id"], datetime.fromisoformat(row["scanned_at"])


def summarize(scans):
    per_depot = Counter()
    last_scan = {}
    slow_hops = []
    for parcel_id, depot_id, scanned_at in scans:
        per_depot[depot_id] += 1
        if parcel_id in last_scan:
            hours = (scanned_at - last_scan[parcel_id]).total_seconds() / 3600
            if hours > SLOW_HOP_HOURS:
                slow_hops.append((parcel_id, depot_id, round(hours, 1)))
        last_scan[parcel_id] = scanned_at
    return per_depot, slow_hops


if __name__ == "__main__":
    counts, slow = summarize(read_scans(sys.argv[1]))
    for depot, count in counts.most_common():
        print(f"{depot}\t{count}")
    print(f"{len(slow)} hops slower than {SLOW_HOP_HOURS} hours")
