"""Scoring the engine on gold sets: the metrics (`metrics`), the LLM judge (`judge`) and the
plain LlamaIndex pipeline it is compared with (`baseline`)."""
