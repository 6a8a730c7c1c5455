DROP TRIGGER memberships_announce_change ON control.memberships;
DROP TRIGGER users_announce_change ON control.users;
DROP FUNCTION control.announce_user_change();
