import RegistryDomain
import RegistryServices

/// The translation keys the Swift side of the pages looks up (labels of fixed values, notices,
/// error messages), so a test can check both languages have every one of them.
enum PageVocabulary {
    static let labels: [String: [String]] = [
        "level": SkillLevel.allCases.map { String($0.rawValue) },
        "rating": (1...5).map(String.init),
        "sex": ["F", "M"],
        "roles": Role.allCases.map(\.rawValue),
        "agency_status": AdminPages.statuses,
        "decision": AgencyService.Decision.allCases.map(\.rawValue),
        "worker_status": ["active", "suspended", "revoked"],
        "transfer_status": TransferStatus.allCases.map(\.rawValue),
        "training_kind": ["training", "certificate"],
        "health_result": ["fit", "restricted", "unfit"],
        "sealed_how": ["agency", "deadline"],
        "completed_how": ["sealed", "deadline"],
        "consent_method": ["code", "account"],
        "import_outcome": ["created", "already_registered", "transfer_needed", "rejected"],
        "dimension": ["punctuality", "quality", "childcare", "eldercare", "cooking", "teaching", "honesty", "respect", "reliability", "care"],
        "engagement_status": EngagementStatus.allCases.map(\.rawValue),
        "flag_status": FlagStatus.allCases.map(\.rawValue),
        "grade": CreditGrade.allCases.map(\.rawValue),
        "inquiry_purpose": ["pre_hire_check", "engagement", "administration", "custody"],
        "consent_state": ["active", "in_use", "used", "expired", "revoked"],
        "case_state": CaseState.allCases.map(\.rawValue),
        "case_command": CaseCommand.allCases.map(\.rawValue) + ["submit"],
        "case_outcome": CaseOutcome.allCases.map(\.rawValue),
        "case_actor": ["user", "system"],
        "field": ["id_number", "full_name", "sex", "phone", "home_region", "service_categories"],
        "source_kind": IntegrationPages.kinds,
        "source_status": IntegrationPages.statuses,
        "audit_subject": AuditPages.subjectTypes,
        "audit_reason": AuditPages.reasons.map { $0.key },
        "review_dispute_decision": DisputePages.reviewDecisions,
        "flag_dispute_decision": DisputePages.flagDecisions,
        "placement_status": EngagementStatus.allCases.map(\.rawValue),
        "worker_account": ["none", "pending_activation", "active", "disabled"],
        "review_dispute_status": ["open", "upheld", "rejected"],
        "flag_dispute_status": ["open", "annotated", "retraction_requested", "rejected"],
    ]

    static let notices =
        [
            "signed_out", "worker_registered", "tenure_assessed", "training_added", "health_added", "skill_added",
            "transfer_requested", "transfer_requested_no_phone", "transfer_consented", "code_resent", "transfer_cancelled",
            "transfer_sealed", "employer_registered", "engagement_confirmed", "engagement_ended", "review_saved", "consent_revoked",
            "reply_saved", "available_on", "available_off", "activated",
            "case_filed", "case_evidence_added", "case_acted", "case_suspended", "case_suspension_lifted", "key_revoked",
            "placement_proposed", "account_started", "consent_sent", "review_disputed", "flag_disputed", "transfer_consented_own",
            "transfer_refused_own", "transfer_withdrawn_own", "red_list_in", "red_list_out", "commitment_signed", "commitment_accepted",
        ] + PlacementPages.events.map(\.1) + Array(DisputePages.reviewNotices.values) + Array(DisputePages.flagNotices.values)
        + AgencyService.Decision.allCases.map { "agency_\($0.rawValue)" }

    /// Error codes with a message of their own; others fall back by field, then by kind.
    static let errors = [
        "invalid_field", "not_found", "forbidden", "conflict", "unavailable", "csrf_failed", "unauthenticated",
        "invalid_credentials", "too_many_attempts", "missing_field", "too_long", "password_too_short", "password_too_long",
        "account_exists", "agency_exists", "agency_not_approved", "agency_suspended", "uscc_length", "uscc_format",
        "uscc_checksum", "id_number_length", "id_number_format", "id_number_checksum", "id_number_birth_date",
        "id_number_region", "implausible_age", "sex_mismatch", "unknown_category", "worker_exists", "worker_revoked",
        "no_open_tenure", "no_file", "already_in_custody", "transfer_open", "illegal_transition", "not_a_party",
        "code_expired", "code_exhausted", "wrong_code", "no_phone", "custody_changed", "bad_header", "too_many_rows",
        "body_too_large", "bad_request", "method_not_allowed", "internal_error", "database_unavailable",
        "invalid_code", "consent_required", "not_confirmed", "not_started", "review_exists", "reply_exists", "not_active",
        "not_graded",
        "four_eyes", "conflict_of_interest", "took_part", "not_your_step", "notice_over", "evidence_too_large", "evidence_type",
        "evidence_limit", "no_engagement", "already_suspended", "not_suspended",
        "source_exists", "dispute_decided",
        "no_employer", "account_active", "dispute_open",
        "codes_exhausted", "too_many_transfer_requests", "busy", "invalid_characters", "too_many_codes", "stale_version",
    ]

    /// Fields whose format the generic "invalid" message explains.
    static let fieldErrors = [
        "email", "phone", "contact_email", "contact_phone", "region_code", "home_region", "full_name", "sex", "name",
        "contact_name", "reason", "issued_on", "expires_on", "valid_until", "assessed_on", "hours", "level",
        "ethics_rating", "category", "kind", "result", "title", "issuer", "assessor", "code", "csv",
        "household_name", "password", "comment", "body", "skill_scores", "ethics_scores",
        "grounds", "statement", "evidence", "outcome", "command",
        "source_name", "display_name", "label", "note", "decision", "action", "actor", "subject_type", "subject_id", "before",
        "starts_on", "employer",
    ]

    static var requiredKeys: [String] {
        labels.flatMap { group, values in values.map { "\(group).\($0)" } }
            + notices.map { "notices.\($0)" }
            + errors.map { "errors.\($0)" }
            + fieldErrors.map { "errors.fields.\($0)" }
            + [
                "transfers.incoming_one", "transfers.outgoing_one", "import.problem", "form.check_field", "apply.password_hint",
                "cases.age_days", "cases.size_kb", "cases.evidence_hint",
                "dashboard.no_data", "dashboard.cases_by_state", "dashboard.cases_by_age", "dashboard.grades", "dashboard.flags_per_day",
                "worker_home.history_chart", "worker_home.transfer_waiting", "worker_home.transfer_consented",
                "worker_home.transfer_question", "file.start_account", "file.resend_activation",
                "red_list.rule", "agency_home.red_list", "commitments.kind_agency", "commitments.kind_staff", "red_list.missing_not_active",
                "red_list.missing_grade_not_held",
                "red_list.missing_open_case",
                "red_list.missing_live_flag", "integrations.never_used", "audit.unknown_actor", "audit.actor_anonymous", "audit.actor_system",
                "audit.intact",
                "audit.broken", "audit.broken_link", "audit.broken_event", "disputes.title", "disputes.flag_title", "roles.integration",
            ]
            + DashboardPages.ageBuckets.map { "dashboard.age.\($0)" }
    }
}
