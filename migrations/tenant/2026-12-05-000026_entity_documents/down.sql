ALTER TABLE entities ADD COLUMN body JSONB;
UPDATE entities SET body = (document::jsonb) #- '{metadata,uid}' #- '{metadata,etag}';
ALTER TABLE entities ALTER COLUMN body SET NOT NULL;
ALTER TABLE entities DROP COLUMN document;
