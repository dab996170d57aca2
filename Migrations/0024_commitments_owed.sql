-- 0024: which credit commitments in force a staff member still owes (Policies/commitments.yaml
-- gives the versions): 'agency' when her agency's is not signed in that version, 'staff' when
-- her own is not accepted in that version. One definition for the session lookup (every write
-- waits for both) and for signing in (she is led to them first).
CREATE FUNCTION commitments_owed(p_agency uuid, p_user uuid, p_agency_version text, p_staff_version text)
RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT array_remove(ARRAY[
        CASE WHEN NOT EXISTS (
            SELECT 1 FROM credit_commitments c
            WHERE c.kind = 'agency' AND c.agency_id = p_agency AND c.version = p_agency_version
        ) THEN 'agency' END,
        CASE WHEN NOT EXISTS (
            SELECT 1 FROM credit_commitments c
            WHERE c.kind = 'staff' AND c.user_id = p_user AND c.version = p_staff_version
        ) THEN 'staff' END
    ], NULL)
$$;
