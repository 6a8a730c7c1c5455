DROP TABLE oauth_clients;
DROP TABLE api_keys;
