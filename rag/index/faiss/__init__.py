"""The default store: FAISS vectors, chunk texts and BM25 postings in mapped files: rag.index.faiss.store.IndexStore."""
