"""The Milvus store: rag.index.milvus.store.MilvusStore."""
