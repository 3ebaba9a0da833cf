-- Once per database, as a superuser, after `createdb -O rectify_owner rectify` and before the first migration:
-- the application role (rectify_app: the API and the scheduler) reads and writes rows; only the owner
-- (rectify_owner: migrations) changes the schema, so the app can never switch off the trail's append-only
-- trigger. Tables and sequences the owner's migrations create later are granted by the default privileges.
GRANT USAGE ON SCHEMA public TO rectify_app;
ALTER DEFAULT PRIVILEGES FOR ROLE rectify_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO rectify_app;
ALTER DEFAULT PRIVILEGES FOR ROLE rectify_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO rectify_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO rectify_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO rectify_app;
