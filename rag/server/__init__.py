"""The OpenAI-compatible HTTP API of `rag serve`."""
