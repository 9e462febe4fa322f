"""From a question to passages: follow-ups made standalone (`conversation`), the question's
analysis (`question`), and hybrid retrieval with its reranker (`hybrid`)."""
