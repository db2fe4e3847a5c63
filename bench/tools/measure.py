#!/usr/bin/env python3
"""Runs a command R times; prints JSON with the medians of its wall time, CPU
time (user + system, of the child and anything it waited for) and peak RSS
(ru_maxrss), all from wait4, and whether every run exited 0.

  measure.py --runs R -- COMMAND [ARGS...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    walls, cpus, rss, codes = [], [], [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
        rss.append(usage.ru_maxrss / 1024.0)  # KiB -> MiB
        codes.append(os.waitstatus_to_exitcode(status))
    print(json.dumps({"runs": args.runs, "wall_ms_median": statistics.median(walls),
                      "wall_ms_min": min(walls), "cpu_ms_median": statistics.median(cpus),
                      "cpu_ms_min": min(cpus), "rss_mib_median": statistics.median(rss),
                      "exit_codes": sorted(set(codes))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
