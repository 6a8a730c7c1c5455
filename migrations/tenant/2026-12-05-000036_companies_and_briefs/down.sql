DROP TABLE competitors;
DROP TABLE competitive_briefs;
DROP TABLE company_data_version;
DROP TABLE company_secrets;
DROP TABLE companies;
