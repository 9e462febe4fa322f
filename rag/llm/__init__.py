"""The language model: an OpenAI-compatible chat client (`client`) and every piece of prompt
text, with the fixed abstention phrase (`prompts`)."""
