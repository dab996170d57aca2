-- A flag source's operators have an address the registry writes to (a dispute an administrator
-- upheld: the source is asked to retract its flag).
ALTER TABLE integration_sources ADD COLUMN contact_email text
    CHECK (contact_email = lower(contact_email) AND length(contact_email) BETWEEN 3 AND 254);
