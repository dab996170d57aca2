-- 0029: households are real. An employer account's phone number is verified by a code sent to it
-- (the contact flow: asking for a code to one's own unverified number, or to a new number);
-- only a household whose account holds a verified number confirms a placement, and each
-- engagement records how it was confirmed, which the report shows beside the review it made
-- possible. Placements confirmed before this rule existed say so.
ALTER TABLE users ADD COLUMN phone_verified_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_phone_verified_has_phone CHECK (phone_verified_at IS NULL OR phone IS NOT NULL);

ALTER TABLE engagements ADD COLUMN confirmed_via text
    CHECK (confirmed_via IN ('verified_phone', 'before_phone_verification'));
UPDATE engagements SET confirmed_via = 'before_phone_verification' WHERE confirmed_at IS NOT NULL;
ALTER TABLE engagements ADD CONSTRAINT engagements_confirmed_via_set CHECK ((confirmed_at IS NULL) = (confirmed_via IS NULL));

-- A household's number is never an agency's contact number nor one on a worker's file: looked up
-- when the household asks for its code.
CREATE INDEX workers_phone_idx ON workers (phone) WHERE phone IS NOT NULL;
CREATE INDEX agencies_contact_phone_idx ON agencies (contact_phone) WHERE contact_phone IS NOT NULL;
