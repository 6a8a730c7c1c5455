DROP TABLE text_embeddings;
DROP TABLE embedding_state;
