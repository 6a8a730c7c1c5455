-- Typo-tolerant name search (`pettstore` finds `petstore`).
CREATE INDEX entities_name_trigrams ON entities USING gin (lower(name) public.gin_trgm_ops);
