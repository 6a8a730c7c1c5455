-- Trigram matching for the typo-tolerant search box. Extensions live in `public` (never in a
-- tenant schema); tenant SQL names their operators schema-qualified.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
