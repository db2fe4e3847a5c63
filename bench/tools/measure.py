#!/usr/bin/env python3
"""Runs commands R times each, interleaved (A B C A B C ...) so that a change
in machine load hits all of them alike; prints one JSON object per command
name with the medians of wall time, CPU time (user + system) and peak RSS
(ru_maxrss), and the set of exit codes.

  measure.py --runs R --rusage RUSAGE --spec SPEC.json
      SPEC.json: {"name": ["command", "arg", ...], ...}; prints
      {"name": {...}, ...}. Each run goes through RUSAGE (bench/tools/rusage.c,
      compiled), which forks the command and reports its wait4 figures: a
      child of python3 itself would carry python's RSS as a floor.
  measure.py --runs R -- COMMAND [ARGS...]
      One command, started directly: its RSS has python's as a floor.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def summary(samples):
    walls = [s["wall_ms"] for s in samples]
    cpus = [s["cpu_ms"] for s in samples]
    rss = [s["rss_kib"] / 1024.0 for s in samples]
    return {"runs": len(samples), "wall_ms_median": statistics.median(walls),
            "wall_ms_min": min(walls), "cpu_ms_median": statistics.median(cpus),
            "cpu_ms_min": min(cpus), "rss_mib_median": statistics.median(rss),
            "exit_codes": sorted({s["exit_code"] for s in samples})}


def run_direct(command):
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return {"wall_ms": (time.perf_counter() - start) * 1000,
            "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000, "rss_kib": usage.ru_maxrss,
            "exit_code": os.waitstatus_to_exitcode(status)}


def run_via(rusage, command):
    out = subprocess.run([rusage] + command, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rusage")
    p.add_argument("--spec")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    if args.spec:
        if not args.rusage:
            p.error("--spec needs --rusage")
        with open(args.spec) as f:
            spec = json.load(f)
        samples = {name: [] for name in spec}
        for _ in range(args.runs):
            for name, command in spec.items():
                samples[name].append(run_via(args.rusage, command))
        print(json.dumps({name: summary(s) for name, s in samples.items()}))
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    print(json.dumps(summary([run_direct(command) for _ in range(args.runs)])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
