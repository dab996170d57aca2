import RegistryDomain
import RegistryStorage

/// The agency's assessment of a tenure, checked the same way whether it is recorded during custody
/// or sealed at a transfer.
enum TenureAssessment {
    static func validate(_ a: WorkerService.Assessment) throws(RegistryError) -> TenureStore.Assessment {
        var out = TenureStore.Assessment()
        out.workAbility = try Input.text(a.workAbility, field: "work_ability", max: 2000, required: false)
        out.healthStatus = try Input.text(a.healthStatus, field: "health_status", max: 500, required: false)
        out.feedbackSummary = try Input.text(a.feedbackSummary, field: "feedback_summary", max: 2000, required: false)
        out.ethicsNote = try Input.text(a.ethicsNote, field: "ethics_note", max: 2000, required: false)
        if let rating = a.ethicsRating {
            guard (1...5).contains(rating) else { throw .invalid("ethics_rating", "ethics_rating is 1 to 5.") }
            out.ethicsRating = rating
        }
        return out
    }
}
