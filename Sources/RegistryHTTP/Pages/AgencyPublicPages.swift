import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// An agency's public page (`/agencies/{id}`, for everyone, linked from the report): its band,
/// demerit points in force, the placements households confirmed and the credit commitment its
/// legal representative signed — never the notices' evidence, which only the agency and
/// administrators read.
struct AgencyPublicPages {
    let kit: PageKit

    func register(on routes: ProtectedRouter) {
        routes.get("/agencies/{id}", action: "public.agency") { request, context in
            let page = kit.scope(request, context)
            let commitment = page.registry.policies.commitments.agency
            let a = try await page.registry.demerits.publicAgency(
                try context.parameters.uuid("id"),
                commitmentInForce: commitment.version,
                logger: context.logger
            )
            let t = page.registry.policies.demerits.thresholds
            var values: [String: Any] = [
                "name": a.name, "uscc": a.uscc, "region_code": a.regionCode, "band": a.band, "points": a.points,
                "placements": a.placements, "status_label": page.label("agency_status", a.status), "suspended": a.status == "suspended",
                "level_text": page.t.text("demerits.level_\(a.level)"),
                "band_rule": page.t.text(
                    "agency_public.band_rule",
                    ["warning": String(t.warning), "suspend": String(t.suspendRegistrations)]
                ),
            ]
            if let c = a.commitment {
                values["commitment"] = [
                    "version": c.version, "representative": c.representative ?? "", "signed_at": PageScope.dateTime(c.signedAt),
                    "current": c.current, "text": commitment.text(language: page.language == .zh ? "zh" : "en"),
                ]
            }
            return page.render("agency_public", values)
        }
    }
}
