DROP TABLE control.memberships;
DROP TABLE control.users;
DROP TABLE control.tenants;
