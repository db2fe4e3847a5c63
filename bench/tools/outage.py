#!/usr/bin/env python3
"""Reads the per-request log of a rollout through a registry outage (client.py stream --log).

  outage.py --log FILE --start T --end T --unsigned FILE --served FILE [--timeout 3]

T are epoch seconds: the outage's window. An image "verified before" is a key that was
answered valid (its value is the key itself: keys are digest references) to a request sent
before the outage began (its verification could use the registry). "During" counts the
requests sent after the outage began and answered before it ended, so none of them could
have reached the registry. --served holds the registry's access log lines from the
start of the rollout to the end of the outage: an image whose legacy signature manifest
(sha256-<hex>.sig; the images carry no other) the registry never served by then cannot
have been verified by anyone before or during the outage. Prints JSON:

  verified_before         images verified before the outage
  during_requests/items   requests and items during the outage
  verified_denied_items   items of images verified before, denied during the outage
  verified_denied_images  distinct such images
  denied_reasons          those denials' reasons, masked and counted (most frequent first)
  unclear_reasons         those denials whose reason names no registry failure
  unverified_valid_items  items of images not verified before, answered valid during
                          the outage (the provider verified them for a request that was
                          answered "timed out" before the verification ended)
  unvouched_valid_items   items answered valid during the outage of images whose signature
                          the registry had not served: never correct
  unsigned_valid_items    items of unsigned images answered valid at any time
  wrong_value_items       items answered without an error but with a value that is not the key
  items, item_errors, timeouts, non_200, and item_errors_before/_during/_after (by
  phase: answered before the outage, neither before nor after, sent after it), after_requests
"""
import argparse
import collections
import json
import re
import sys

SERVED_SIGNATURE = re.compile(
    r'"GET /v2/(\S+)/manifests/sha256-([0-9a-f]{64})\.sig HTTP/[0-9.]+" 200 ')

REGISTRY_FAILURE = re.compile(r"registry unreachable|HTTP (429|5\d\d)\b|timed out")


def mask(text):
    text = re.sub(r"sha256[:-][0-9a-f]{64}", "<digest>", text)
    text = re.sub(r"127\.0\.0\.1:\d+/\S+?(?=[@:\s]|$)", "<image>", text)
    return text[:200]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", required=True)
    p.add_argument("--start", type=float, required=True)
    p.add_argument("--end", type=float, required=True)
    p.add_argument("--unsigned", required=True)
    p.add_argument("--served", required=True)
    p.add_argument("--timeout", type=float, default=3.0)
    args = p.parse_args()
    with open(args.unsigned) as f:
        unsigned = {line.strip() for line in f if line.strip()}
    served = set()
    with open(args.served) as f:
        for line in f:
            m = SERVED_SIGNATURE.search(line)
            if m:
                served.add(f"{m.group(1)}@sha256:{m.group(2)}")

    def vouched(key):  # 127.0.0.1:PORT/repo@sha256:hex -> was its signature served?
        return key.split("/", 1)[-1] in served

    with open(args.log) as f:
        records = sorted((json.loads(line) for line in f if line.strip()),
                         key=lambda r: r["done"])

    def valid(item):
        key, value, error = item
        return not error and value == key

    verified_before = {item[0] for r in records if r["sent"] < args.start
                       for item in r["items"] if valid(item)}
    counts = collections.Counter()
    reasons = collections.Counter()
    denied_images = set()
    for r in records:
        counts["requests"] += 1
        counts["timeouts"] += 1 if r["timed_out"] or r["done"] - r["sent"] > args.timeout else 0
        counts["non_200"] += 0 if r["status"] == 200 else 1
        during = r["sent"] >= args.start and r["done"] <= args.end
        phase = "before" if r["done"] < args.start else ("after" if r["sent"] > args.end
                                                         else "during")
        counts["during_requests"] += 1 if during else 0
        counts["after_requests"] += 1 if phase == "after" else 0
        for item in r["items"]:
            key, value, error = item
            counts["items"] += 1
            if error:
                counts["item_errors"] += 1
                counts["item_errors_" + phase] += 1
            elif value != key:
                counts["wrong_value_items"] += 1
            if valid(item) and key in unsigned:
                counts["unsigned_valid_items"] += 1
            if not during:
                continue
            counts["during_items"] += 1
            if key in verified_before:
                if error:
                    counts["verified_denied_items"] += 1
                    denied_images.add(key)
                    reasons[mask(error.replace(key, "<key>"))] += 1
                    if not REGISTRY_FAILURE.search(error):
                        counts["unclear_reasons"] += 1
                else:
                    counts["verified_valid_items"] += 1
            elif valid(item):
                counts["unverified_valid_items"] += 1
            else:
                counts["unverified_denied_items"] += 1
            if valid(item) and not vouched(key):
                counts["unvouched_valid_items"] += 1
    result = {name: counts[name] for name in (
        "requests", "items", "item_errors", "item_errors_before", "item_errors_during",
        "item_errors_after", "timeouts", "non_200", "during_requests", "during_items",
        "after_requests", "verified_denied_items", "verified_valid_items", "unclear_reasons",
        "unverified_valid_items", "unvouched_valid_items", "unverified_denied_items",
        "unsigned_valid_items", "wrong_value_items")}
    result["verified_before"] = len(verified_before)
    result["signatures_served"] = len(served)
    result["verified_denied_images"] = len(denied_images)
    result["denied_reasons"] = reasons.most_common(4)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
