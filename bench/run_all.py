"""Run every benchmark (bench/bench_*.py) in turn; each prints its own markdown table.

Usage: python bench/run_all.py [--full] [NAME ...]   (NAME like `scan` or `feeds`)
--full adds the 100,000-article runs where a benchmark supports them (slow).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    full = "--full" in argv
    names = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        print(f"\n## {script.stem.removeprefix('bench_')}\n", flush=True)
        started = time.perf_counter()
        cmd = [sys.executable, str(script)] + (["--full"] if full else [])
        result = subprocess.run(cmd, cwd=HERE.parent)
        print(f"\n({script.name}: {time.perf_counter() - started:.1f}s, exit {result.returncode})", flush=True)
        if result.returncode:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
