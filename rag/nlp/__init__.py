"""Language and time, for every stage: sentences, words and their stems (`text`), dates and
relative expressions (`timeline`), events dated from the articles (`events`), names, the kind
of answer a question asks for (`asked`) and the embedding model (`embeddings`)."""
