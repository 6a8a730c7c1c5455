-- Entities are stored as the JSON text the API serves (metadata.uid and metadata.etag in it;
-- relations are added when served). Reads send these bytes as they are: with JSONB, PostgreSQL
-- printed every document and the server parsed and printed it again, which for a page of APIs
-- with their definitions cost more than reading it.
ALTER TABLE entities ADD COLUMN document TEXT;
UPDATE entities
   SET document = jsonb_set(jsonb_set(body, '{metadata,uid}', to_jsonb(id::text)), '{metadata,etag}', to_jsonb(etag))::text;
ALTER TABLE entities ALTER COLUMN document SET NOT NULL;
ALTER TABLE entities DROP COLUMN body;
-- lz4 compresses large documents (API definitions) several times faster than the default,
-- on writes; PostgreSQL built without it keeps the default.
DO $$
BEGIN
    ALTER TABLE entities ALTER COLUMN document SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;
