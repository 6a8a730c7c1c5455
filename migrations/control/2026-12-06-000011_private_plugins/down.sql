DELETE FROM control.plugins WHERE owner_tenant IS NOT NULL;
ALTER TABLE control.plugins DROP CONSTRAINT plugins_support_check;
ALTER TABLE control.plugins ADD CONSTRAINT plugins_support_check
    CHECK (support IN ('supported', 'tech-preview', 'dev-preview', 'community'));
DROP INDEX control.plugins_owner;
ALTER TABLE control.plugins DROP COLUMN owner_tenant;
