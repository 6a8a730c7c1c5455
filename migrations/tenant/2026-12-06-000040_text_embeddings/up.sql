-- Sentence embeddings (all-MiniLM-L6-v2) of company and catalog texts, once per distinct text:
-- the key is the SHA-256 of the text, the vector 384 little-endian f32 values.
CREATE TABLE text_embeddings (
    text_hash  BYTEA PRIMARY KEY CHECK (length(text_hash) = 32),
    vector     BYTEA NOT NULL CHECK (length(vector) = 1536),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Bumped by every batch of new vectors: readers that keep vectors in memory (the catalog's
-- semantic search) know when to read the new ones.
CREATE TABLE embedding_state (version BIGINT NOT NULL);
INSERT INTO embedding_state VALUES (0);
