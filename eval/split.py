"""Split a new gold set into dev and test before anything is run on it: items that share a
source article go to the same side, chosen by a hash of that article's id (or, for an item
without sources, of its own id), so the split is fixed and needs no seed. With `--by-item`
(a set over a handful of articles, all on both sides) each item's own id decides.

    python eval/split.py NEW.jsonl eval/NAME_dev.jsonl eval/NAME_test.jsonl [--by-item]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


def side(item: dict, by_item: bool) -> str:
    key = item["sources"][0] if item.get("sources") and not by_item else item["id"]
    return "dev" if hashlib.sha1(key.encode()).digest()[0] % 2 == 0 else "test"


def main(source: str, dev: str, test: str, by_item: bool = False) -> int:
    lines = [line for line in Path(source).read_text("utf-8").splitlines() if line.strip()]
    out: dict[str, list[str]] = {"dev": [], "test": []}
    for line in lines:
        out[side(json.loads(line), by_item)].append(line)
    Path(dev).write_text("\n".join(out["dev"]) + "\n", "utf-8")
    Path(test).write_text("\n".join(out["test"]) + "\n", "utf-8")
    print(f"{len(out['dev'])} dev, {len(out['test'])} test")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4], by_item="--by-item" in sys.argv))
