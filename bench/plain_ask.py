"""The cold-start counterpart of `rag ask`: a plain LlamaIndex script that opens its persisted
index and answers one question with the fused top passages.

    python -m bench.plain_ask INDEX_DIR "question"

LlamaIndex has no offline answer step, so the "answer" is the best passage's text: this
script does less than `rag ask` (no composer), which makes it a floor for a plain script.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.plain import embed_model, fusion_retriever, open_index


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.plain_ask INDEX_DIR QUESTION", file=sys.stderr)
        return 2
    index_dir, question = Path(argv[0]), argv[1]
    nodes = fusion_retriever(index_dir, open_index(index_dir, embed_model())).retrieve(question)
    passages = [
        {"doc_id": n.node.metadata.get("doc_id"), "text": n.node.get_content(), "score": n.score}
        for n in nodes
    ]
    answer = passages[0]["text"] if passages else ""
    print(json.dumps({"question": question, "answer": answer, "passages": passages}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
