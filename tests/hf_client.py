"""Calls a nerkit server with the real Hugging Face client: `python hf_client.py URL TEXT STRATEGY`.

Prints the client's parsed answer as JSON (tests/serve.rs compares it with the route's own answer)."""
import json
import sys

from huggingface_hub import InferenceClient

url, text, strategy = sys.argv[1:4]
client = InferenceClient(model=url)
out = client.token_classification(text, aggregation_strategy=strategy)
print(json.dumps([
    {"entity_group": e.entity_group, "word": e.word, "start": e.start, "end": e.end, "score": e.score}
    for e in out
]))
